/*
 * fake-qemu: the host side of QEMU's ccid-card-passthru, for the VSCard
 * benchmark. Plays QEMU so that the card side (cacard's VscardClient in a
 * separate process) can be timed without QEMU, a guest or a CCID driver.
 *
 *   fake-qemu <readers> <apdu-hex>
 *
 * Listens on 127.0.0.1, port chosen by the kernel, and prints "port <p>".
 * Accepts one connection and answers like QEMU 7.2: the card's Init with an
 * Init, ReaderRemove / CardRemove with Error(SUCCESS), each ReaderAdd with
 * Error(SUCCESS) carrying the next reader id (0, 1, ...), each ATR with
 * Error(SUCCESS). When <readers> ATRs have arrived it prints "ready".
 *
 * Then, for each "run <seconds>" line on stdin: sends the APDU to every
 * reader and, for every answer (VSC_APDU or VSC_Error), sends the next one
 * to that reader, so that each reader has exactly one APDU outstanding (as
 * QEMU does). After <seconds> it stops sending, waits for the outstanding
 * answers and prints "rate <answers per second> errors <n> first <hex of
 * the first answer>". "quit" (or end of input) exits.
 *
 * Plain blocking sockets, one thread: per round trip this side costs one
 * read() and one write(), so it stays far from being the bottleneck.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { T_INIT = 1, T_ERROR = 2, T_READER_ADD = 3, T_READER_REMOVE = 4, T_ATR = 5, T_CARD_REMOVE = 6, T_APDU = 7, T_FLUSH = 8 };

#define HEADER 12
#define MAX_READERS 1024
#define INBUF (1 << 20)

static int fd = -1;
static unsigned char inbuf[INBUF];
static size_t inlen;
static unsigned char *outbuf;
static size_t outlen, outcap;
static unsigned char apdu[300];
static size_t apdu_len;
static int want_readers;
static int next_id;
static int atrs;
static int has_atr[MAX_READERS];
static int busy[MAX_READERS];
static int outstanding;
static int running;
static long answers, errors;
static char first[1024];

static void die(const char *what)
{
    fprintf(stderr, "fake-qemu: %s%s%s\n", what, errno ? ": " : "", errno ? strerror(errno) : "");
    exit(1);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void put32(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static unsigned get32(const unsigned char *p)
{
    return (unsigned)p[0] << 24 | (unsigned)p[1] << 16 | (unsigned)p[2] << 8 | p[3];
}

static void queue(unsigned type, unsigned reader, const unsigned char *payload, size_t len)
{
    if (outlen + HEADER + len > outcap) {
        outcap = (outlen + HEADER + len) * 2;
        outbuf = realloc(outbuf, outcap);
        if (outbuf == NULL) die("out of memory");
    }
    put32(outbuf + outlen, type);
    put32(outbuf + outlen + 4, reader);
    put32(outbuf + outlen + 8, (unsigned)len);
    if (len) memcpy(outbuf + outlen + HEADER, payload, len);
    outlen += HEADER + len;
}

static void queue_error(unsigned reader, unsigned code)
{
    unsigned char p[4];
    put32(p, code);
    queue(T_ERROR, reader, p, 4);
}

static void flush_out(void)
{
    size_t off = 0;
    while (off < outlen) {
        ssize_t n = write(fd, outbuf + off, outlen - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("write");
        }
        off += (size_t)n;
    }
    outlen = 0;
}

static void send_apdu(unsigned reader)
{
    queue(T_APDU, reader, apdu, apdu_len);
    busy[reader] = 1;
    outstanding++;
}

static void on_answer(unsigned reader, int is_error, const unsigned char *p, size_t len)
{
    if (reader >= MAX_READERS || !busy[reader]) return;
    busy[reader] = 0;
    outstanding--;
    if (is_error) errors++;
    else {
        answers++;
        if (first[0] == '\0') {
            size_t i;
            for (i = 0; i < len && i < 500; i++) sprintf(first + 2 * i, "%02X", p[i]);
        }
    }
    if (running) send_apdu(reader);
}

static void on_frame(unsigned type, unsigned reader, const unsigned char *p, size_t len)
{
    switch (type) {
    case T_INIT: {
        unsigned char init[12] = { 'V', 'S', 'C', 'D', 0, 0, 0, 2, 0, 0, 0, 0 };
        queue(T_INIT, 0, init, sizeof(init));
        break;
    }
    case T_READER_ADD:
        queue_error((unsigned)next_id++, 0);
        break;
    case T_ATR:
        queue_error(reader, 0);
        if (reader < MAX_READERS && !has_atr[reader]) {
            has_atr[reader] = 1;
            atrs++;
        }
        break;
    case T_READER_REMOVE:
    case T_CARD_REMOVE:
        queue_error(reader, 0);
        break;
    case T_APDU:
        on_answer(reader, 0, p, len);
        break;
    case T_ERROR:
        on_answer(reader, 1, p, len);
        break;
    default:
        break;
    }
}

/* Reads what is there (waiting at most timeout_ms), handles every whole frame, sends the replies. */
static int pump(int timeout_ms)
{
    struct pollfd pfd = { fd, POLLIN, 0 };
    ssize_t n;
    size_t off = 0;
    int r = poll(&pfd, 1, timeout_ms);
    if (r < 0 && errno != EINTR) die("poll");
    if (r <= 0) return 0;
    n = read(fd, inbuf + inlen, sizeof(inbuf) - inlen);
    if (n == 0) {
        errno = 0;
        die("the card side closed the connection");
    }
    if (n < 0) {
        if (errno == EINTR) return 0;
        die("read");
    }
    inlen += (size_t)n;
    while (inlen - off >= HEADER) {
        unsigned type = get32(inbuf + off), reader = get32(inbuf + off + 4), len = get32(inbuf + off + 8);
        if (len > 65536) {
            errno = 0;
            die("frame too large");
        }
        if (inlen - off < HEADER + len) break;
        on_frame(type, reader, inbuf + off + HEADER, len);
        off += HEADER + len;
    }
    memmove(inbuf, inbuf + off, inlen - off);
    inlen -= off;
    if (outlen) flush_out();
    return 1;
}

static void do_run(double seconds)
{
    double start, stop_at, end;
    long counted;
    int i;
    answers = errors = 0;
    running = 1;
    for (i = 0; i < atrs; i++) send_apdu((unsigned)i);
    start = now();
    stop_at = start + seconds;
    flush_out();
    while (now() < stop_at) pump(10);
    running = 0;
    counted = answers + errors;
    end = now();
    {
        double deadline = end + 10;
        while (outstanding > 0 && now() < deadline) pump(100);
    }
    printf("rate %.3f errors %ld first %s\n", (double)counted / (end - start), errors, first[0] ? first : "-");
}

int main(int argc, char **argv)
{
    struct sockaddr_in addr;
    socklen_t alen = sizeof(addr);
    int lfd, one = 1;
    size_t i;
    char line[256];

    if (argc != 3) {
        fprintf(stderr, "usage: fake-qemu <readers> <apdu-hex>\n");
        return 2;
    }
    want_readers = atoi(argv[1]);
    if (want_readers < 1 || want_readers > MAX_READERS) die("readers out of range");
    apdu_len = strlen(argv[2]) / 2;
    if (apdu_len < 4 || apdu_len > sizeof(apdu)) die("bad APDU");
    for (i = 0; i < apdu_len; i++) {
        unsigned v;
        if (sscanf(argv[2] + 2 * i, "%2x", &v) != 1) die("bad APDU hex");
        apdu[i] = (unsigned char)v;
    }
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);

    lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0) die("socket");
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(lfd, 1) < 0) die("bind/listen");
    if (getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0) die("getsockname");
    printf("port %d\n", ntohs(addr.sin_port));

    {
        struct pollfd pfd = { lfd, POLLIN, 0 };
        if (poll(&pfd, 1, 120000) <= 0) die("no connection from the card side");
    }
    fd = accept(lfd, NULL, NULL);
    if (fd < 0) die("accept");
    close(lfd);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    {
        double deadline = now() + 120;
        while (atrs < want_readers && now() < deadline) pump(100);
        if (atrs < want_readers) {
            fprintf(stderr, "fake-qemu: %d/%d readers ready\n", atrs, want_readers);
            return 1;
        }
    }
    printf("ready %d\n", atrs);

    while (fgets(line, sizeof(line), stdin) != NULL) {
        if (strncmp(line, "run ", 4) == 0) do_run(atof(line + 4));
        else if (strncmp(line, "quit", 4) == 0) break;
    }
    close(fd);
    return 0;
}
