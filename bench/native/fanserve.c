/*
 * A trivial server for measuring the load generator itself: it greets
 * clients the way the bench's floor server does (or ncat does), discards
 * whatever they send, and once a sender starts chatting writes every
 * client all the lines of its room, pre-built, in large writes.  What the
 * generator counts against it is the generator's own ceiling.
 *
 *   fanserve PORT WORKLOAD [floor|ncat] [SPLIT]
 *
 * WORKLOAD is a file of "lines N" and "sender NAME ROOM" lines.  With
 * "ncat" it speaks like ncat --chat: no login, an announce line, and
 * "<userN> " before some lines only (as ncat marks each chunk it
 * relays), senders getting none of their own lines.  SPLIT > 0 breaks
 * one line in SPLIT in two, to show that the generator catches it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#ifndef TEXT
#define TEXT 63 /* a bench line's text, without its newline */
#endif
#define MAXSENDERS 4096

typedef struct {
    int fd, loggedIn, sender;
    char room[40], in[256];
    int inlen;
    const char *out;
    size_t outlen, outoff;
} Conn;

static char senderName[MAXSENDERS][40], senderRoom[MAXSENDERS][40];
static int nsenders, lines, ncat, split, started, identified, epfd;
static Conn **conns;
static int nconns, capconns;

static void die(const char *what) {
    fprintf(stderr, "fanserve: %s: %s\n", what, strerror(errno));
    exit(2);
}

/*
 * Every line of room `room` from every sender in it, round-robin by
 * sequence number, leaving out sender `except`'s own (-1: none).
 */
static char *build(const char *room, int except, size_t *len) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    double at = tv.tv_sec + tv.tv_usec / 1e6;
    size_t cap = (size_t)lines * nsenders * (TEXT + 60) + 1, count = 0;
    char *out = malloc(cap), *p = out;
    for (int seq = 0; seq < lines; seq++)
        for (int s = 0; s < nsenders; s++) {
            if (s == except || strcmp(senderRoom[s], room)) continue;
            char text[TEXT + 1];
            int n = snprintf(text, sizeof text, "%s:%d:%.6f:", senderName[s], seq, at);
            memset(text + n, 'x', TEXT - n);
            text[TEXT] = 0;
            count++;
            if (ncat)
                p += count % 7 == 1 ? sprintf(p, "<user%d> ", 4 + s) : 0;
            else
                p += sprintf(p, "<%s> ", senderName[s]);
            if (split && count % split == 0)
                p += sprintf(p, "%.*s\n%s\n", TEXT / 2, text, text + TEXT / 2);
            else
                p += sprintf(p, "%s\n", text);
        }
    *len = p - out;
    return out;
}

static void watch(Conn *c, int op) {
    struct epoll_event ev = {.events = EPOLLIN | (c->outoff < c->outlen ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(epfd, op, c->fd, &ev) < 0) die("epoll_ctl");
}

static void flush(Conn *c) {
    while (c->outoff < c->outlen) {
        size_t want = c->outlen - c->outoff;
        ssize_t n = write(c->fd, c->out + c->outoff, want > (1 << 20) ? (1 << 20) : want);
        if (n < 0) {
            if (errno == EAGAIN) break;
            c->outoff = c->outlen;
            break;
        }
        c->outoff += n;
    }
    watch(c, EPOLL_CTL_MOD);
}

/* Each room's lines, made before anyone comes (senders' rooms are all). */
static char *shared[MAXSENDERS];
static size_t sharedLen[MAXSENDERS];

static void prepare(void) {
    for (int s = 0; s < nsenders; s++) {
        int k;
        for (k = 0; k < s && strcmp(senderRoom[k], senderRoom[s]); k++) {}
        if (k == s) shared[s] = build(senderRoom[s], -1, &sharedLen[s]);
    }
}

/* The first sender's chat: everyone gets their room's lines. */
static void start(void) {
    started = 1;
    for (int i = 0; i < nconns; i++) {
        Conn *c = conns[i];
        if (!c->loggedIn) continue;
        if (ncat && c->sender >= 0) {
            c->out = build(c->room, c->sender, &c->outlen);
        } else {
            int k;
            for (k = 0; k < nsenders && strcmp(senderRoom[k], c->room); k++) {}
            if (k == nsenders) continue;
            c->out = shared[k];
            c->outlen = sharedLen[k];
        }
        flush(c);
    }
}

static void loginLine(Conn *c, char *text) {
    char name[40] = "", room[40] = "#lobby";
    sscanf(text, "%39s %39s", name, room);
    strcpy(c->room, room + (room[0] == '#'));
    for (int s = 0; s < nsenders; s++)
        if (!strcmp(senderName[s], name)) c->sender = s;
    c->loggedIn = 1;
    char hello[64];
    int n = snprintf(hello, sizeof hello, "hello %s\n", name);
    if (write(c->fd, hello, n) != n) c->loggedIn = 0;
}

static void readable(Conn *c) {
    char data[65536 + 1];
    ssize_t n = read(c->fd, data, sizeof data - 1);
    if (n <= 0) {
        if (n < 0 && errno == EAGAIN) return;
        epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->loggedIn = 0;
        return;
    }
    data[n] = 0;
    if (ncat && c->sender < 0 && !c->inlen) {
        /* ncat does not know names: a sender is known by its first line */
        char name[40] = "";
        sscanf(data, "%39[^:]", name);
        c->inlen = 1;
        for (int s = 0; s < nsenders; s++)
            if (!strcmp(senderName[s], name)) c->sender = s, identified++;
        if (!started && identified == nsenders) start();
        return;
    }
    if (c->loggedIn) {
        if (!started && !ncat && c->sender >= 0) start();
        return;
    }
    for (ssize_t i = 0; i < n && !c->loggedIn; i++) {
        if (data[i] == '\n') {
            c->in[c->inlen] = 0;
            loginLine(c, c->in);
            if (i + 1 < n && c->sender >= 0 && !started) start();
        } else if (c->inlen < (int)sizeof c->in - 1)
            c->in[c->inlen++] = data[i];
    }
}

static void accepted(int listener) {
    int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK);
    if (fd < 0) return;
    Conn *c = calloc(1, sizeof *c);
    c->fd = fd;
    c->sender = -1;
    if (nconns == capconns) {
        capconns = capconns ? 2 * capconns : 1024;
        conns = realloc(conns, capconns * sizeof *conns);
    }
    conns[nconns++] = c;
    if (ncat) {
        strcpy(c->room, "lobby");
        c->loggedIn = 1;
        static const char hi[] = "<announce> already connected: nobody\n";
        if (write(fd, hi, sizeof hi - 1) < 0) c->loggedIn = 0;
    }
    watch(c, EPOLL_CTL_ADD);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: fanserve PORT WORKLOAD [floor|ncat] [SPLIT]\n");
        return 2;
    }
    ncat = argc > 3 && !strcmp(argv[3], "ncat");
    split = argc > 4 ? atoi(argv[4]) : 0;
    FILE *f = fopen(argv[2], "r");
    if (!f) die(argv[2]);
    char text[256];
    while (fgets(text, sizeof text, f)) {
        if (sscanf(text, "lines %d", &lines) == 1) continue;
        if (nsenders < MAXSENDERS &&
            sscanf(text, "sender %39s %39s", senderName[nsenders], senderRoom[nsenders]) == 2)
            nsenders++;
    }
    fclose(f);
    prepare();

    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, (struct sockaddr *)&a, sizeof a) < 0 || listen(listener, 4096) < 0) die("listen");
    epfd = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(epfd, EPOLL_CTL_ADD, listener, &ev);
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(epfd, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            Conn *c = evs[i].data.ptr;
            if (!c) {
                accepted(listener);
                continue;
            }
            if (evs[i].events & EPOLLOUT) flush(c);
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) readable(c);
        }
    }
}
