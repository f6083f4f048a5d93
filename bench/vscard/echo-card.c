/*
 * echo-card: the smallest possible VSCard card side, for the VSCard
 * benchmark's lower bound ("how fast can any card side be here?").
 *
 *   echo-card <port> <readers>
 *
 * Connects to 127.0.0.1:<port>, sends Init, waits for the host's Init, adds
 * <readers> readers one at a time (ReaderAdd, then the ATR once the host has
 * given the reader id), then answers every APDU with 90 00. Blocking
 * sockets, one thread, no card emulation at all. Exits when the host closes
 * the connection.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { T_INIT = 1, T_ERROR = 2, T_READER_ADD = 3, T_ATR = 5, T_APDU = 7 };

static int fd;

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

static void send_frame(unsigned type, unsigned reader, const void *payload, unsigned len)
{
    unsigned char f[64];
    put32(f, type);
    put32(f + 4, reader);
    put32(f + 8, len);
    memcpy(f + 12, payload, len);
    if (write(fd, f, 12 + len) != (ssize_t)(12 + len)) exit(0);
}

int main(int argc, char **argv)
{
    static const unsigned char init[12] = { 'V', 'S', 'C', 'D', 0, 0, 0, 2, 0, 0, 0, 0 };
    static const unsigned char atr[] = { 0x3B, 0x7A, 0x18, 0x00, 0x00, 0x73, 0x66, 0x74, 0x65, 0x20, 0x63, 0x64, 0x31, 0x34, 0x34 };
    static const unsigned char ok[2] = { 0x90, 0x00 };
    static unsigned char buf[1 << 17];
    struct sockaddr_in addr;
    size_t have = 0;
    int readers, added = 0, adding = 0, host_init = 0, one = 1;
    int pending_atrs = 0; /* host Errors still due for ATRs we sent */

    if (argc != 3) {
        fprintf(stderr, "usage: echo-card <port> <readers>\n");
        return 2;
    }
    readers = atoi(argv[2]);
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)atoi(argv[1]));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        perror("echo-card: connect");
        return 1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    send_frame(T_INIT, 0, init, sizeof(init));
    for (;;) {
        size_t off = 0;
        ssize_t n = read(fd, buf + have, sizeof(buf) - have);
        if (n <= 0) return 0;
        have += (size_t)n;
        while (have - off >= 12) {
            unsigned type = get32(buf + off), reader = get32(buf + off + 4), len = get32(buf + off + 8);
            if (have - off < 12 + len) break;
            off += 12 + len;
            if (type == T_APDU) {
                send_frame(T_APDU, reader, ok, 2);
            } else if (type == T_INIT && !host_init) {
                host_init = 1;
                adding = 1;
                send_frame(T_READER_ADD, 0xFFFFFFFFu, NULL, 0);
            } else if (type == T_ERROR) {
                /* Errors come back in request order: ATR answers queued before the ReaderAdd answer. */
                if (pending_atrs > 0) {
                    pending_atrs--;
                } else if (adding) {
                    adding = 0;
                    added++;
                    send_frame(T_ATR, reader, atr, sizeof(atr));
                    pending_atrs++;
                    if (added < readers) {
                        adding = 1;
                        send_frame(T_READER_ADD, 0xFFFFFFFFu, NULL, 0);
                    }
                }
            }
        }
        memmove(buf, buf + off, have - off);
        have -= off;
    }
}
