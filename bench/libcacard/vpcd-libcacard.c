/*
 * vpcd-libcacard: libcacard's card behind vsmartcard's vpcd, for the vpcd
 * benchmark (the libcacard counterpart of `cacard vpcd`).
 *
 *   vpcd-libcacard <nss-db-dir> [--host H] [--port P] [--quickack]
 *
 * libcacard is set up exactly as test/harness/cacard-ref.c does it (options
 * db="sql:<dir>" use_hw=no soft=(,Test,CAC,,cert1,cert2,cert3), reader
 * "Test", power on). Then it connects to vpcd (default 127.0.0.1:35963,
 * retrying for 10 s) and serves frames: a 2-byte big-endian length, then the
 * payload. A 1-byte payload is a control code: 00 power off, 01 power on,
 * 02 reset (no reply), 04 GET ATR (reply: the ATR); a longer payload is an
 * APDU, answered with vreader_xfr_bytes's reply (6F00 if libcacard fails, so
 * that a zero-length frame is never sent). Every reply frame goes out in one
 * write(); TCP_NODELAY is on, as in cacard's vpcd client.
 *
 * --quickack sets TCP_QUICKACK before every read (the kernel clears it
 * again by itself), i.e. what a card side written in C can do against vpcd's
 * two-write frames, without touching the routing table.
 *
 * On SIGTERM/SIGINT, or when vpcd closes the connection, prints
 * "vpcd-libcacard: <n> APDUs" on stderr and exits 0; 1 on errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libcacard.h>

#define READER_NAME "Test"
#define RECV_CAPACITY (65536 + 2)
#define ATR_CAPACITY 64

static VReader *reader;
static unsigned char atr[ATR_CAPACITY];
static int atr_len;
static int quickack;
static volatile sig_atomic_t stop_requested;
static long apdu_count;

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void die(const char *what)
{
    fprintf(stderr, "vpcd-libcacard: %s\n", what);
    exit(1);
}

static void power_on(void)
{
    atr_len = ATR_CAPACITY;
    if (vreader_power_on(reader, atr, &atr_len) != VREADER_OK) atr_len = 0;
}

static void init_card(const char *db)
{
    char options_text[4096];
    VCardEmulOptions *options;
    VEvent *event;

    if (strchr(db, '"') != NULL) die("bad database directory");
    snprintf(options_text, sizeof(options_text),
             "db=\"sql:%s\" use_hw=no soft=(," READER_NAME ",CAC,,cert1,cert2,cert3)", db);
    options = vcard_emul_options(options_text);
    if (options == NULL) die("libcacard rejected the options string");
    if (vcard_emul_init(options) != VCARD_EMUL_OK) die("vcard_emul_init failed");
    while ((event = vevent_get_next_vevent()) != NULL) vevent_delete(event);
    reader = vreader_get_reader_by_name(READER_NAME);
    if (reader == NULL) die("reader not found");
    if (vreader_card_is_present(reader) != VREADER_OK) die("no card in the reader");
    power_on();
    if (atr_len == 0) die("power-on failed");
}

static int read_exact(int fd, unsigned char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n;
        if (stop_requested) return 0;
        if (quickack) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
        }
        n = read(fd, buf + got, len - got);
        if (n == 0) return 0;
        if (n < 0) {
            if (errno == EINTR) continue; /* stop_requested is checked above */
            return -1;
        }
        got += (size_t)n;
    }
    return 1;
}

static void send_frame(int fd, const unsigned char *payload, int len)
{
    static unsigned char frame[2 + RECV_CAPACITY];
    size_t off = 0, total = (size_t)len + 2;
    frame[0] = (unsigned char)(len >> 8);
    frame[1] = (unsigned char)len;
    memcpy(frame + 2, payload, (size_t)len);
    while (off < total) {
        ssize_t n = write(fd, frame + off, total - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("write failed");
        }
        off += (size_t)n;
    }
}

static int connect_vpcd(const char *host, int port)
{
    struct sockaddr_in addr;
    int attempt;

    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) die("bad --host (IPv4 address expected)");
    for (attempt = 0; attempt < 100; attempt++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        struct timespec pause = { 0, 100 * 1000 * 1000 };
        if (fd < 0) die("socket failed");
        if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            return fd;
        }
        close(fd);
        nanosleep(&pause, NULL);
    }
    die("could not connect to vpcd");
    return -1;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    int port = 35963;
    int fd, i;
    static unsigned char payload[65536];
    static unsigned char reply[RECV_CAPACITY];

    if (argc < 2) {
        fprintf(stderr, "usage: vpcd-libcacard <nss-db-dir> [--host H] [--port P] [--quickack]\n");
        return 2;
    }
    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) host = argv[++i];
        else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--quickack") == 0) quickack = 1;
        else {
            fprintf(stderr, "vpcd-libcacard: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_stop; /* no SA_RESTART: a blocked read() returns EINTR */
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
    }
    init_card(argv[1]);
    fd = connect_vpcd(host, port);
    fprintf(stderr, "vpcd-libcacard: connected to %s:%d%s\n", host, port, quickack ? " (TCP_QUICKACK)" : "");

    for (;;) {
        unsigned char head[2];
        int len, r;

        r = read_exact(fd, head, 2);
        if (r == 0) break;
        if (r < 0) die("read failed");
        len = head[0] << 8 | head[1];
        if (len == 0) continue;
        r = read_exact(fd, payload, (size_t)len);
        if (r <= 0) break;
        if (len == 1) {
            switch (payload[0]) {
            case 0x00:
                vreader_power_off(reader);
                break;
            case 0x01:
                power_on();
                break;
            case 0x02:
                vreader_power_off(reader);
                power_on();
                break;
            case 0x04:
                send_frame(fd, atr, atr_len);
                break;
            default:
                break;
            }
            continue;
        }
        {
            int reply_len = RECV_CAPACITY;
            if (vreader_xfr_bytes(reader, payload, len, reply, &reply_len) != VREADER_OK || reply_len < 2) {
                reply[0] = 0x6F;
                reply[1] = 0x00;
                reply_len = 2;
            }
            send_frame(fd, reply, reply_len);
            apdu_count++;
        }
    }
    close(fd);
    fprintf(stderr, "vpcd-libcacard: %ld APDUs\n", apdu_count);
    return 0;
}
