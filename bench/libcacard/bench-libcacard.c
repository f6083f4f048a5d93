/*
 * bench-libcacard: libcacard's side of the in-process benchmark.
 *
 * libcacard is set up exactly as test/harness/cacard-ref.c does it (options
 * string db="sql:<dir>" use_hw=no soft=(,Test,CAC,,cert1,cert2,cert3),
 * reader "Test", power on), and the bench drives it with commands on stdin,
 * so that bench/run.ts can interleave libcacard runs with cacard runs of the
 * same operation (same machine load for both sides).
 *
 *   bench-libcacard <nss-db-dir> [--readers N]
 *
 * With --readers N (N > 1) the options string holds N soft readers, "Test",
 * "Test1", ... "Test<N-1>", each a CAC card made of cert1..cert3 (for the
 * many-cards memory figure).
 *
 * Commands (one per line; every reply is one line, "err <text>" on failure):
 *   op <name>        start an operation definition (name without spaces)
 *   setup <hex>      an APDU sent once after power-on, before the timed loop
 *   apdu <hex>       an APDU of one iteration of the operation
 *   end              finish the definition        -> "ok <index>"
 *   check <index>    power cycle, setup, one iteration; prints the replies of
 *                    every APDU as hex on one line, space separated
 *                                                  -> "resp <hex> <hex> ..."
 *   run <index> <seconds>
 *                    power cycle, setup, then iterations for ~seconds (the
 *                    clock is read every `batch` iterations; batch doubles
 *                    from 1 while a batch takes under 10 ms, as in
 *                    bench/lib/inprocess.ts)    -> "rate <ops/s> <iterations> <elapsed s>"
 *   each <index>     power cycle every reader, setup + one iteration on each
 *                                                  -> "ok <readers>"
 *   rss              VmRSS of this process       -> "rss <kB>"
 *   atr              the ATR of reader "Test"    -> "atr <hex>"
 *   quit             exit 0
 *
 * A libcacard transfer error (VReaderStatus != OK) during check/run/each is
 * reported as "err xfr <status>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libcacard.h>

#define READER_NAME "Test"
#define RECV_CAPACITY (65536 + 2)
#define ATR_CAPACITY 64
#define MAX_OPS 64
#define MAX_APDUS 64
#define MAX_READERS 1000

typedef struct {
    unsigned char *bytes;
    int len;
} Apdu;

typedef struct {
    char name[128];
    Apdu setup[MAX_APDUS];
    int setup_count;
    Apdu apdus[MAX_APDUS];
    int apdu_count;
} Op;

static Op ops[MAX_OPS];
static int op_count;
static Op *defining;

static VReader *readers[MAX_READERS];
static int reader_count = 1;
static unsigned char recv_buf[RECV_CAPACITY];
static unsigned char atr[ATR_CAPACITY];
static int atr_len;

static void die(const char *what)
{
    fprintf(stderr, "bench-libcacard: %s\n", what);
    exit(1);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int parse_hex(const char *text, Apdu *out)
{
    size_t n = strlen(text);
    size_t i;
    if (n % 2 != 0 || n == 0) return -1;
    out->bytes = malloc(n / 2);
    if (out->bytes == NULL) die("out of memory");
    for (i = 0; i < n / 2; i++) {
        int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);
        if (hi < 0 || lo < 0) return -1;
        out->bytes[i] = (unsigned char)(hi << 4 | lo);
    }
    out->len = (int)(n / 2);
    return 0;
}

static void print_hex(const unsigned char *b, int len)
{
    static const char digits[] = "0123456789ABCDEF";
    int i;
    for (i = 0; i < len; i++) {
        putchar(digits[b[i] >> 4]);
        putchar(digits[b[i] & 15]);
    }
}

static char *build_options(const char *db)
{
    size_t size = strlen(db) + 64 + (size_t)reader_count * 64;
    char *options = malloc(size);
    size_t used;
    int i;
    if (options == NULL) die("out of memory");
    used = (size_t)snprintf(options, size, "db=\"sql:%s\" use_hw=no", db);
    for (i = 0; i < reader_count; i++) {
        if (i == 0) {
            used += (size_t)snprintf(options + used, size - used, " soft=(," READER_NAME ",CAC,,cert1,cert2,cert3)");
        } else {
            used += (size_t)snprintf(options + used, size - used, " soft=(," READER_NAME "%d,CAC,,cert1,cert2,cert3)", i);
        }
    }
    return options;
}

static void power_cycle(VReader *r)
{
    int len = ATR_CAPACITY;
    vreader_power_off(r);
    if (vreader_power_on(r, atr, &len) != VREADER_OK) die("power-on failed");
    if (r == readers[0]) atr_len = len;
}

static void init_card(const char *db)
{
    char *options_text = build_options(db);
    VCardEmulOptions *options = vcard_emul_options(options_text);
    VEvent *event;
    int i;

    if (options == NULL) die("libcacard rejected the options string");
    if (vcard_emul_init(options) != VCARD_EMUL_OK) {
        fprintf(stderr, "bench-libcacard: vcard_emul_init failed for %s\n", db);
        exit(1);
    }
    free(options_text);
    while ((event = vevent_get_next_vevent()) != NULL) vevent_delete(event);
    for (i = 0; i < reader_count; i++) {
        char name[32];
        if (i == 0) snprintf(name, sizeof(name), READER_NAME);
        else snprintf(name, sizeof(name), READER_NAME "%d", i);
        readers[i] = vreader_get_reader_by_name(name);
        if (readers[i] == NULL) die("reader not found after init");
        if (vreader_card_is_present(readers[i]) != VREADER_OK) die("no card in a reader");
        power_cycle(readers[i]);
    }
}

/* One transfer; returns the reply length or -status on a libcacard error. */
static int xfr(VReader *r, const Apdu *a)
{
    int recv_len = RECV_CAPACITY;
    VReaderStatus status = vreader_xfr_bytes(r, a->bytes, a->len, recv_buf, &recv_len);
    if (status != VREADER_OK) return -(int)status;
    return recv_len;
}

static Op *op_at(const char *arg)
{
    int i = atoi(arg);
    if (i < 0 || i >= op_count) return NULL;
    return &ops[i];
}

static int run_setup(VReader *r, const Op *op)
{
    int i, n;
    power_cycle(r);
    for (i = 0; i < op->setup_count; i++) {
        n = xfr(r, &op->setup[i]);
        if (n < 0) return n;
    }
    return 0;
}

static void cmd_check(const Op *op)
{
    int i, n;
    VReader *r = readers[0];
    power_cycle(r);
    printf("resp");
    for (i = 0; i < op->setup_count + op->apdu_count; i++) {
        const Apdu *a = i < op->setup_count ? &op->setup[i] : &op->apdus[i - op->setup_count];
        n = xfr(r, a);
        if (n < 0) {
            printf("\nerr xfr %d\n", -n);
            return;
        }
        putchar(' ');
        print_hex(recv_buf, n);
    }
    putchar('\n');
}

static void cmd_run(const Op *op, double seconds)
{
    VReader *r = readers[0];
    long iterations = 0, batch = 1, b;
    double start, elapsed = 0, before;
    int i, n;

    n = run_setup(r, op);
    if (n < 0) {
        printf("err xfr %d\n", -n);
        return;
    }
    start = now_seconds();
    while (elapsed < seconds) {
        before = elapsed;
        for (b = 0; b < batch; b++) {
            for (i = 0; i < op->apdu_count; i++) {
                n = xfr(r, &op->apdus[i]);
                if (n < 0) {
                    printf("err xfr %d\n", -n);
                    return;
                }
            }
        }
        iterations += batch;
        elapsed = now_seconds() - start;
        if (elapsed - before < 0.010 && batch < 1024) batch *= 2;
    }
    printf("rate %.3f %ld %.6f\n", (double)iterations / elapsed, iterations, elapsed);
}

static void cmd_each(const Op *op)
{
    int k, i, n;
    for (k = 0; k < reader_count; k++) {
        n = run_setup(readers[k], op);
        for (i = 0; n >= 0 && i < op->apdu_count; i++) n = xfr(readers[k], &op->apdus[i]);
        if (n < 0) {
            printf("err xfr %d\n", -n);
            return;
        }
    }
    printf("ok %d\n", reader_count);
}

static void cmd_rss(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    if (f != NULL) {
        while (fgets(line, sizeof(line), f) != NULL) {
            if (strncmp(line, "VmRSS:", 6) == 0) kb = atol(line + 6);
        }
        fclose(f);
    }
    printf("rss %ld\n", kb);
}

int main(int argc, char **argv)
{
    char *line = NULL;
    size_t cap = 0;

    if (argc != 2 && !(argc == 4 && strcmp(argv[2], "--readers") == 0)) {
        fprintf(stderr, "usage: bench-libcacard <nss-db-dir> [--readers N]\n");
        return 2;
    }
    if (argc == 4) {
        reader_count = atoi(argv[3]);
        if (reader_count < 1 || reader_count > MAX_READERS) die("--readers out of range");
    }
    if (strchr(argv[1], '"') != NULL) die("bad database directory");
    init_card(argv[1]);
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("ready %d\n", reader_count);

    while (getline(&line, &cap, stdin) != -1) {
        char *arg;
        line[strcspn(line, "\r\n")] = '\0';
        arg = strchr(line, ' ');
        if (arg != NULL) *arg++ = '\0';
        else arg = line + strlen(line);

        if (strcmp(line, "op") == 0) {
            if (op_count >= MAX_OPS) {
                printf("err too many ops\n");
                continue;
            }
            defining = &ops[op_count];
            memset(defining, 0, sizeof(*defining));
            snprintf(defining->name, sizeof(defining->name), "%s", arg);
        } else if (strcmp(line, "setup") == 0 || strcmp(line, "apdu") == 0) {
            int is_setup = line[0] == 's';
            Apdu a;
            if (defining == NULL) {
                printf("err no op\n");
                continue;
            }
            if ((is_setup ? defining->setup_count : defining->apdu_count) >= MAX_APDUS || parse_hex(arg, &a) != 0) {
                printf("err bad apdu\n");
                continue;
            }
            if (is_setup) defining->setup[defining->setup_count++] = a;
            else defining->apdus[defining->apdu_count++] = a;
        } else if (strcmp(line, "end") == 0) {
            if (defining == NULL) {
                printf("err no op\n");
                continue;
            }
            defining = NULL;
            printf("ok %d\n", op_count++);
        } else if (strcmp(line, "check") == 0 || strcmp(line, "each") == 0 || strcmp(line, "run") == 0) {
            Op *op = op_at(arg);
            if (op == NULL) {
                printf("err no such op\n");
            } else if (line[0] == 'c') {
                cmd_check(op);
            } else if (line[0] == 'e') {
                cmd_each(op);
            } else {
                char *sec = strchr(arg, ' ');
                double seconds = sec ? atof(sec + 1) : 0.5;
                cmd_run(op, seconds > 0 ? seconds : 0.5);
            }
        } else if (strcmp(line, "rss") == 0) {
            cmd_rss();
        } else if (strcmp(line, "atr") == 0) {
            printf("atr ");
            print_hex(atr, atr_len);
            putchar('\n');
        } else if (strcmp(line, "quit") == 0) {
            break;
        } else if (line[0] != '\0') {
            printf("err unknown command\n");
        }
    }
    free(line);
    return 0;
}
