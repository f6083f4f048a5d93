/*
 * pcsc-rtt: per-APDU round-trip time through pcscd (for the vpcd benchmark).
 *
 *   pcsc-rtt rtt <reader-substring> <count> <apdu-hex>
 *       Connects to the first reader whose name contains the substring and
 *       sends the APDU <count> times with SCardTransmit. Prints one line:
 *       "rtt_us median=<m> p10=<a> p90=<b> min=<c> max=<d> n=<count> sw=<SW of the last reply>"
 *   pcsc-rtt wait <reader-substring> present|absent <seconds>
 *       Waits until a card is present in (or absent from) the reader.
 *       Exit 0 when it happened, 1 on timeout.
 *
 * Exit 2 on PC/SC errors (message on stderr).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <PCSC/winscard.h>

static SCARDCONTEXT ctx;

static void fail(const char *what, LONG rv)
{
    fprintf(stderr, "pcsc-rtt: %s: %s\n", what, pcsc_stringify_error(rv));
    exit(2);
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* The first reader whose name contains `part`, or NULL. */
static char *find_reader(const char *part)
{
    static char readers[8192];
    DWORD len = sizeof(readers);
    char *r;
    LONG rv = SCardListReaders(ctx, NULL, readers, &len);
    if (rv == (LONG)SCARD_E_NO_READERS_AVAILABLE) return NULL;
    if (rv != SCARD_S_SUCCESS) fail("SCardListReaders", rv);
    for (r = readers; *r != '\0'; r += strlen(r) + 1) {
        if (strstr(r, part) != NULL) return r;
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int cmd_rtt(const char *part, int count, const char *hex)
{
    unsigned char apdu[512], resp[4096];
    size_t n = strlen(hex) / 2, i;
    SCARDHANDLE card;
    DWORD proto, resp_len = 0;
    double *lat;
    char *name = find_reader(part);
    LONG rv;
    int k;

    if (name == NULL) {
        fprintf(stderr, "pcsc-rtt: no reader matching '%s'\n", part);
        return 2;
    }
    if (strlen(hex) % 2 != 0 || n > sizeof(apdu) || count < 1) {
        fprintf(stderr, "pcsc-rtt: bad arguments\n");
        return 2;
    }
    for (i = 0; i < n; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            fprintf(stderr, "pcsc-rtt: bad hex\n");
            return 2;
        }
        apdu[i] = (unsigned char)(hi << 4 | lo);
    }
    rv = SCardConnect(ctx, name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &card, &proto);
    if (rv != SCARD_S_SUCCESS) fail("SCardConnect", rv);
    lat = calloc((size_t)count, sizeof(double));
    if (lat == NULL) return 2;
    for (k = 0; k < count; k++) {
        const SCARD_IO_REQUEST *pci = proto == SCARD_PROTOCOL_T1 ? SCARD_PCI_T1 : SCARD_PCI_T0;
        double t0 = now_us();
        resp_len = sizeof(resp);
        rv = SCardTransmit(card, pci, apdu, (DWORD)n, NULL, resp, &resp_len);
        lat[k] = now_us() - t0;
        if (rv != SCARD_S_SUCCESS) fail("SCardTransmit", rv);
    }
    SCardDisconnect(card, SCARD_LEAVE_CARD);
    qsort(lat, (size_t)count, sizeof(double), cmp_double);
    printf("rtt_us median=%.1f p10=%.1f p90=%.1f min=%.1f max=%.1f n=%d sw=%02X%02X\n", lat[count / 2],
           lat[count / 10], lat[(count * 9) / 10], lat[0], lat[count - 1], count,
           resp_len >= 2 ? resp[resp_len - 2] : 0, resp_len >= 2 ? resp[resp_len - 1] : 0);
    free(lat);
    return 0;
}

static int cmd_wait(const char *part, int want_present, double seconds)
{
    double deadline = now_us() + seconds * 1e6;
    while (now_us() < deadline) {
        char *name = find_reader(part);
        if (name != NULL) {
            SCARD_READERSTATE st;
            LONG rv;
            memset(&st, 0, sizeof(st));
            st.szReader = name;
            st.dwCurrentState = SCARD_STATE_UNAWARE;
            rv = SCardGetStatusChange(ctx, 0, &st, 1);
            if (rv == SCARD_S_SUCCESS) {
                int present = (st.dwEventState & SCARD_STATE_PRESENT) != 0;
                if (present == want_present) return 0;
            }
        }
        {
            struct timespec pause = { 0, 20 * 1000 * 1000 };
            nanosleep(&pause, NULL);
        }
    }
    fprintf(stderr, "pcsc-rtt: timed out waiting for the card to be %s\n", want_present ? "present" : "absent");
    return 1;
}

int main(int argc, char **argv)
{
    LONG rv;
    if (argc != 5 || (strcmp(argv[1], "rtt") != 0 && strcmp(argv[1], "wait") != 0)) {
        fprintf(stderr, "usage: pcsc-rtt rtt <reader> <count> <apdu-hex> | wait <reader> present|absent <seconds>\n");
        return 2;
    }
    rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
    if (rv != SCARD_S_SUCCESS) fail("SCardEstablishContext", rv);
    if (strcmp(argv[1], "rtt") == 0) return cmd_rtt(argv[2], atoi(argv[3]), argv[4]);
    return cmd_wait(argv[2], strcmp(argv[3], "present") == 0, atof(argv[4]));
}
