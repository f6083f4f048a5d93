/*
 * cacard-ref: drive the system libcacard with APDUs read from stdin.
 *
 * This is the reference side of the differential tests. It speaks the same
 * line protocol as `cacard apdu`, so a test can feed the same script to both
 * and compare the output line by line.
 *
 *   cacard-ref <nss-db-dir> [nick ...]        (default nicks: cert1 cert2 cert3)
 *
 * The card is set up the way libcacard's own test suite does it: one soft
 * reader named "Test" holding a CAC card made of the named certificates, with
 * the options string
 *
 *   db="sql:<dir>" use_hw=no soft=(,Test,CAC,,<nick>,<nick>,...)
 *
 * Input, one item per line (leading and trailing blanks are ignored):
 *   - blank lines and lines starting with '#' are skipped, nothing is printed;
 *   - "!reset" power-cycles the card (power off, power on), nothing is printed;
 *   - "!atr" prints the ATR returned by the last power-on, as uppercase hex;
 *   - anything else is a command APDU in hex. Spaces, tabs and colons between
 *     digits are allowed. The reply (response data followed by SW1 SW2) is
 *     printed as one line of uppercase hex.
 *
 * Error lines (the protocol carries on after each):
 *   "ERR <n>"          vreader_xfr_bytes returned VReaderStatus n (1 = no card)
 *   "ERR bad-hex"      the line is not an even number of hex digits
 *   "ERR bad-command"  an unknown "!" command
 *
 * stdout is flushed after every line, so a parent process can stream one
 * APDU at a time. Exit status: 0 at end of input, 1 if libcacard could not be
 * initialised (one line on stderr), 2 on a usage error.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libcacard.h>

#define READER_NAME "Test"
/* Largest reply libcacard can build: 65536 data bytes (extended Le) + SW. */
#define RECV_CAPACITY (65536 + 2)
#define ATR_CAPACITY 64

static VReader *reader;
static unsigned char atr[ATR_CAPACITY];
static int atr_len;

static void die_init(const char *what)
{
    fprintf(stderr, "cacard-ref: %s\n", what);
    exit(1);
}

/* Emits one protocol line and flushes it; a closed stdout ends the program. */
static void emit_line(const char *text)
{
    if (fputs(text, stdout) == EOF || fputc('\n', stdout) == EOF ||
        fflush(stdout) == EOF) {
        exit(errno == EPIPE ? 0 : 3);
    }
}

static void emit_hex(const unsigned char *bytes, size_t len)
{
    static const char digits[] = "0123456789ABCDEF";
    char *text = malloc(len * 2 + 1);
    size_t i;

    if (text == NULL) {
        die_init("out of memory");
    }
    for (i = 0; i < len; i++) {
        text[2 * i] = digits[bytes[i] >> 4];
        text[2 * i + 1] = digits[bytes[i] & 0x0F];
    }
    text[len * 2] = '\0';
    emit_line(text);
    free(text);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/*
 * Decodes hex with optional separators into out (which must hold strlen/2
 * bytes). Returns the byte count, or -1 for a stray character or an odd
 * number of digits.
 */
static long parse_hex(const char *text, unsigned char *out)
{
    long count = 0;
    int high = -1;

    for (; *text != '\0'; text++) {
        int v;
        if (*text == ' ' || *text == '\t' || *text == ':') {
            continue;
        }
        v = hex_value(*text);
        if (v < 0) {
            return -1;
        }
        if (high < 0) {
            high = v;
        } else {
            out[count++] = (unsigned char)((high << 4) | v);
            high = -1;
        }
    }
    return high < 0 ? count : -1;
}

static void power_on(void)
{
    atr_len = ATR_CAPACITY;
    if (vreader_power_on(reader, atr, &atr_len) != VREADER_OK) {
        atr_len = 0;
    }
}

static void transmit(unsigned char *apdu, long len)
{
    static unsigned char recv[RECV_CAPACITY];
    int recv_len = RECV_CAPACITY;
    VReaderStatus status;

    status = vreader_xfr_bytes(reader, apdu, (int)len, recv, &recv_len);
    if (status != VREADER_OK) {
        char text[32];
        snprintf(text, sizeof(text), "ERR %d", (int)status);
        emit_line(text);
        return;
    }
    emit_hex(recv, (size_t)recv_len);
}

/* Refuses characters that would break out of the options string syntax. */
static void check_option_text(const char *text, const char *forbidden,
                              const char *what)
{
    if (*text == '\0' || strpbrk(text, forbidden) != NULL) {
        fprintf(stderr, "cacard-ref: invalid %s '%s'\n", what, text);
        exit(2);
    }
}

static char *build_options(int argc, char **argv)
{
    static const char *default_nicks[] = { "cert1", "cert2", "cert3" };
    const char **nicks = (const char **)&argv[2];
    int nick_count = argc - 2;
    size_t size;
    char *options;
    int i;

    if (nick_count == 0) {
        nicks = default_nicks;
        nick_count = 3;
    }
    check_option_text(argv[1], "\"\n", "database directory");
    size = strlen(argv[1]) + 64 + strlen(READER_NAME);
    for (i = 0; i < nick_count; i++) {
        check_option_text(nicks[i], ",)\n", "certificate nickname");
        size += strlen(nicks[i]) + 1;
    }
    options = malloc(size);
    if (options == NULL) {
        die_init("out of memory");
    }
    snprintf(options, size, "db=\"sql:%s\" use_hw=no soft=(," READER_NAME
             ",CAC,", argv[1]);
    for (i = 0; i < nick_count; i++) {
        strcat(options, ",");
        strcat(options, nicks[i]);
    }
    strcat(options, ")");
    return options;
}

static void init_card(int argc, char **argv)
{
    char *options_text = build_options(argc, argv);
    VCardEmulOptions *options = vcard_emul_options(options_text);
    VEvent *event;

    if (options == NULL) {
        die_init("libcacard rejected the options string");
    }
    if (vcard_emul_init(options) != VCARD_EMUL_OK) {
        fprintf(stderr, "cacard-ref: vcard_emul_init failed for %s "
                "(missing NSS database or none of the certificates found)\n",
                argv[1]);
        exit(1);
    }
    free(options_text);

    /*
     * A soft card is attached to its reader synchronously inside
     * vcard_emul_init; the queued READER_INSERT / CARD_INSERT events only
     * notify. Nobody else consumes them here, so drain them.
     */
    while ((event = vevent_get_next_vevent()) != NULL) {
        vevent_delete(event);
    }

    reader = vreader_get_reader_by_name(READER_NAME);
    if (reader == NULL) {
        die_init("reader \"" READER_NAME "\" not found after init");
    }
    if (vreader_card_is_present(reader) != VREADER_OK) {
        die_init("no card in reader \"" READER_NAME "\"");
    }
    power_on();
    if (atr_len == 0) {
        die_init("power-on failed");
    }
}

/* Trims blanks in place and returns the start of the remaining text. */
static char *trim(char *line)
{
    char *end;

    while (*line == ' ' || *line == '\t') {
        line++;
    }
    end = line + strlen(line);
    while (end > line && (end[-1] == '\n' || end[-1] == '\r' ||
                          end[-1] == ' ' || end[-1] == '\t')) {
        *--end = '\0';
    }
    return line;
}

int main(int argc, char **argv)
{
    char *line = NULL;
    size_t line_cap = 0;
    unsigned char *apdu = NULL;
    size_t apdu_cap = 0;

    if (argc < 2 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: cacard-ref <nss-db-dir> [nick ...]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    init_card(argc, argv);

    while (getline(&line, &line_cap, stdin) != -1) {
        char *text = trim(line);
        size_t need = strlen(text) / 2 + 1;
        long len;

        if (*text == '\0' || *text == '#') {
            continue;
        }
        if (*text == '!') {
            if (strcmp(text, "!reset") == 0) {
                vreader_power_off(reader);
                power_on();
            } else if (strcmp(text, "!atr") == 0) {
                emit_hex(atr, (size_t)atr_len);
            } else {
                emit_line("ERR bad-command");
            }
            continue;
        }
        if (need > apdu_cap) {
            free(apdu);
            apdu_cap = need;
            apdu = malloc(apdu_cap);
            if (apdu == NULL) {
                die_init("out of memory");
            }
        }
        len = parse_hex(text, apdu);
        if (len < 0) {
            emit_line("ERR bad-hex");
            continue;
        }
        transmit(apdu, len);
    }
    free(line);
    free(apdu);
    return 0;
}
