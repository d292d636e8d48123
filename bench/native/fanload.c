/*
 * The bench's fan-out load generator: chat clients in one process, one
 * epoll loop, checking every line they receive without a per-line
 * allocation, so that on a two-CPU machine the generator (on one CPU)
 * outruns the server (on the other).  Written in C because Python,
 * even with large recv_into buffers, spends about a microsecond a line
 * and tops out below the fastest servers it measures.
 *
 * Driven by bench/native.py over stdin/stdout:
 *   stdin:  "port P", "dialect D" (globalchat|floor|ncat|irc),
 *           "server PID" (whose CPU it reads at go and at the end),
 *           "senders N" (sender names are s0..s{N-1}), "concurrency C",
 *           "limits LOGIN STALL RUN" (seconds), "interval SECONDS" (between
 *           one sender's lines; 0, the default, sends them all at once),
 *           then one "client NAME ROOM SENDS EXPECT [slow]" per client
 *           (a slow one stops reading once it is in), then "end".
 *   stdout: "ready JOINED", then, after "go" on stdin, "tally ...", then
 *           it waits for "release" or EOF.
 *
 * Lines sent all at once are made before go, stamped with the time they
 * were made: then the generator times throughput, not latency; paced
 * lines are made when they are sent (a probe in another process times
 * them).
 *
 * Every line a client gets is classified: intact (its sender's next
 * line, framed as the dialect frames it), reordered (intact but not
 * after the sender's last one), malformed (carries bench text but is not
 * one intact line: split, merged or altered; a line that runs pieces of
 * several together counts once for each), or something else (joins,
 * greetings, notices).  Per client, with missing = expected - intact:
 * corrupted = reordered + min(malformed, missing - reordered), and
 * lost = missing - corrupted (the same rule as bench.wire.damage).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef TEXT
#define TEXT 63          /* a bench line's text, without its newline */
#endif
#define CARRY 2048       /* longest partial line kept between reads */
#define CHUNK (1 << 20)  /* one recv */

enum dialect { GLOBALCHAT, FLOOR, NCAT, IRC };

typedef struct {
    int fd, id;
    char name[40], room[40];
    int namelen, roomlen;
    long sends, expect;
    int connected, joined, closed, complete, slow, paused;
    long nextSeq, bytes;
    double due;
    int *lastSeq;
    long intact, malformed, reordered;
    char *carry;
    int carrylen, skipping;
    char *out, *lines;
    size_t outlen, outoff, lineslen;
} Client;

static enum dialect dialect;
static int port, serverPid, senders, concurrency = 20;
static double loginLimit = 30, stallLimit = 3, runLimit = 60, interval;
static Client *clients;
static int nclients, ncap, epfd;
static long totalIntact, totalMalformed, completeCount;
static double now, firstAt, lastAt;
static char buffer[CARRY + CHUNK];

static double wallclock(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static double monotonic(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void die(const char *what) {
    fprintf(stderr, "fanload: %s: %s\n", what, strerror(errno));
    exit(2);
}

/* CPU ticks (user + system, all threads) of process pid so far. */
static long long cpuTicks(int pid) {
    char path[64], text[4096];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    char *p = strrchr(text, ')');
    if (!p) return -1;
    unsigned long long utime, stime;
    /* fields after the name: state(3) ... utime(14) stime(15) */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
               &utime, &stime) != 2)
        return -1;
    return (long long)(utime + stime);
}

/* This process's CPU seconds so far: all of it, and in the kernel. */
static double selfCpu(double *kernel) {
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    *kernel = r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6;
    return r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + *kernel;
}

static void queueOut(Client *c, const char *data, size_t len) {
    if (!len) return;
    c->out = realloc(c->out, c->outlen + len);
    memcpy(c->out + c->outlen, data, len);
    c->outlen += len;
}

static inline int startsWith(const char *s, const char *e, const char *prefix, int n) {
    return e - s >= n && memcmp(s, prefix, n) == 0;
}

/* Skip an IRCv3 tag block ("@a=b;c ") at the start of a line. */
static const char *skipTags(const char *s, const char *e) {
    if (s < e && *s == '@') {
        const char *sp = memchr(s, ' ', e - s);
        if (sp) return sp + 1;
    }
    return s;
}

/* Whether line [s, e) tells client c that it is in its room. */
static int joinLine(Client *c, const char *s, const char *e) {
    char want[128];
    int n;
    s = skipTags(s, e);
    switch (dialect) {
    case GLOBALCHAT:
        n = snprintf(want, sizeof want, "JOIN #%s %s", c->room, c->name);
        return e - s == n && memcmp(s, want, n) == 0;
    case FLOOR:
        n = snprintf(want, sizeof want, "hello %s", c->name);
        return e - s == n && memcmp(s, want, n) == 0;
    case NCAT:
        return startsWith(s, e, "<announce> ", 11);
    case IRC:
        n = snprintf(want, sizeof want, ":%s!", c->name);
        if (!startsWith(s, e, want, n)) return 0;
        n = snprintf(want, sizeof want, " JOIN #%s", c->room);
        if (memmem(s, e - s, want, n)) return 1;
        n = snprintf(want, sizeof want, " JOIN :#%s", c->room);
        return memmem(s, e - s, want, n) != NULL;
    }
    return 0;
}

static inline int isDigit(char c) { return (unsigned char)(c - '0') < 10; }

static inline int same(const char *a, const char *b, int n) {
    for (int i = 0; i < n; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

/*
 * Whether [p, e) is "NAME> " for the sender name [name, name+len), and
 * then the text starts at e.
 */
static inline int framedName(const char *p, const char *e, const char *name, int len, char close) {
    return e - p == len + 2 && same(p, name, len) && p[len] == close && p[len + 1] == ' ';
}

/*
 * Whether [s, text) is how the dialect frames a line said by the sender
 * [name, name+namelen) in client c's room: 1 if so, 0 if not, 2 for old
 * chat (globalchat's HIST) that is not a delivery.
 */
static inline int framed(Client *c, const char *s, const char *text, const char *name, int namelen) {
    const char *p;
    switch (dialect) {
    case GLOBALCHAT:
        s = skipTags(s, text);
        if (startsWith(s, text, "HIST ", 5)) return 2;
        if (!startsWith(s, text, "MSG #", 5)) return 0;
        p = s + 5;
        if (text - p < c->roomlen + 2 || !same(p, c->room, c->roomlen) || p[c->roomlen] != ' ' ||
            p[c->roomlen + 1] != '<')
            return 0;
        return framedName(p + c->roomlen + 2, text, name, namelen, '>');
    case FLOOR:
        return s < text && *s == '<' && framedName(s + 1, text, name, namelen, '>');
    case NCAT:
        /* ncat puts "<userN> " before each chunk it relays, not each line */
        if (s == text) return 1;
        if (!startsWith(s, text, "<user", 5)) return 0;
        for (p = s + 5; p < text - 2 && isDigit(*p); p++) {}
        return p > s + 5 && p == text - 2 && p[0] == '>' && p[1] == ' ';
    case IRC: {
        s = skipTags(s, text);
        if (s >= text || *s != ':' || text - s < namelen + 2 || !same(s + 1, name, namelen) ||
            s[namelen + 1] != '!')
            return 0;
        p = memchr(s, ' ', text - s);
        if (!p) return 0;
        static const char privmsg[] = " PRIVMSG #";
        int n = sizeof privmsg - 1;
        return text - p == n + c->roomlen + 2 && same(p, privmsg, n) &&
               same(p + n, c->room, c->roomlen) && p[n + c->roomlen] == ' ' &&
               p[n + c->roomlen + 1] == ':';
    }
    }
    return 0;
}

/* Whether the 8 bytes at p are all digits (no per-byte branches). */
static inline int eightDigits(const char *p) {
    uint64_t x;
    memcpy(&x, p, 8);
    const uint64_t high = 0xF0F0F0F0F0F0F0F0ULL, zeros = 0x3030303030303030ULL;
    return (x & high) == zeros && ((x + 0x0606060606060606ULL) & high) == zeros;
}

/*
 * Line [s, e) as a chat line: 1 if it was one (intact or reordered,
 * counted), 2 if it is old chat to ignore, 0 if it is not an intact
 * bench line.  The caller made sure that it is at least TEXT bytes long
 * and ends in 'x', which stops every scan below before e.
 */
static inline int chat(Client *c, const char *s, const char *e) {
    const char *text = e - TEXT, *p = text + 1;
    if (*text != 's') return 0;
    unsigned sender = 0;
    while (isDigit(*p)) sender = sender * 10 + (*p++ - '0');
    int namelen = (int)(p - text);
    if (namelen < 2 || *p++ != ':') return 0;
    const char *seqAt = p;
    long seq = 0;
    while (isDigit(*p)) seq = seq * 10 + (*p++ - '0');
    if (p == seqAt || *p++ != ':') return 0;
    /* the time: seconds (10 digits until 2286) '.' microseconds ':' */
    if (e - p >= 19 && p[10] == '.' && p[17] == ':' && eightDigits(p) && isDigit(p[8]) &&
        isDigit(p[9]) && isDigit(p[11]) && isDigit(p[12]) &&
        isDigit(p[13]) && isDigit(p[14]) && isDigit(p[15]) && isDigit(p[16]))
        p += 18;
    else {
        const char *timeAt = p;
        while (isDigit(*p)) p++;
        if (p == timeAt || *p++ != '.') return 0;
        for (int i = 0; i < 6; i++, p++)
            if (!isDigit(*p)) return 0;
        if (*p++ != ':') return 0;
    }
    if (p == e) return 0;
    const uint64_t xs = 0x7878787878787878ULL;
    for (; e - p >= 8; p += 8) {
        uint64_t x;
        memcpy(&x, p, 8);
        if (x != xs) return 0;
    }
    for (; p < e; p++)
        if (*p != 'x') return 0;
    if (sender >= (unsigned)senders) return 0;
    int how = framed(c, s, text, text, namelen);
    if (how != 1) return how;
    if (seq <= c->lastSeq[sender]) {
        c->reordered++;
        return 1;
    }
    c->lastSeq[sender] = (int)seq;
    c->intact++;
    totalIntact++;
    if (c->intact >= c->expect && !c->complete) {
        c->complete = 1;
        completeCount++;
    }
    return 1;
}

/*
 * Whether [s, e) is a piece of a bench line too short to show it: the end
 * of its padding, on its own or after a "<userN> " as ncat relays it.
 */
static int tail(const char *s, const char *e) {
    if (s < e && *s == '<') {
        const char *close = memchr(s, '>', e - s);
        if (close && close + 1 < e && close[1] == ' ') s = close + 2;
    }
    if (s == e) return 0;
    for (; s < e; s++)
        if (*s != 'x') return 0;
    return 1;
}

static void line(Client *c, const char *s, const char *e) {
    if (e > s && e[-1] == '\r') e--;
    if (e - s >= TEXT && e[-1] == 'x') {
        if (chat(c, s, e)) return;
    }
    if (memmem(s, e > s ? (size_t)(e - s) : 0, "xxxx", 4) || tail(s, e)) {
        /* pieces of several lines run together: each framing that starts
           in the middle (ncat's "<userN> ") begins another */
        static const char *const marks[] = {"MSG #", "<", "<user", " PRIVMSG #"};
        const char *mark = marks[dialect];
        int n = strlen(mark);
        long pieces = 1;
        for (const char *p = s + 1; (p = memmem(p, e - p, mark, n)); p += n) pieces++;
        if (dialect == IRC && pieces > 1) pieces--; /* its framing never starts a line */
        c->malformed += pieces;
        totalMalformed += pieces;
        return;
    }
    if (!c->joined && joinLine(c, s, e)) c->joined = 1;
}

/* Everything in [p, end): whole lines checked, the rest carried over. */
static void received(Client *c, char *p, char *end) {
    if (c->skipping) {
        char *nl = memchr(p, '\n', end - p);
        if (!nl) return;
        c->skipping = 0;
        p = nl + 1;
    }
    for (;;) {
        char *nl = memchr(p, '\n', end - p);
        if (!nl) break;
        line(c, p, nl);
        p = nl + 1;
    }
    size_t rest = end - p;
    if (rest > CARRY) {
        /* far longer than a chat line: a server's notice (ncat lists
           everyone connected in one line), or damage, counted once */
        if (memmem(p, rest, "xxxx", 4)) {
            c->malformed++;
            totalMalformed++;
        } else if (!c->joined && joinLine(c, p, end))
            c->joined = 1;
        c->skipping = 1;
        c->carrylen = 0;
        return;
    }
    if (rest && !c->carry) c->carry = malloc(CARRY);
    memmove(c->carry, p, rest);
    c->carrylen = (int)rest;
}

static void watch(Client *c) {
    struct epoll_event ev = {.events = (c->paused ? 0 : EPOLLIN) |
                                       (c->outoff < c->outlen || !c->connected ? EPOLLOUT : 0),
                             .data.u32 = (uint32_t)c->id};
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl");
}

static void closeClient(Client *c) {
    if (c->closed) return;
    c->closed = 1;
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
}

static void flush(Client *c) {
    while (c->outoff < c->outlen) {
        ssize_t n = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
        if (n < 0) {
            if (errno == EAGAIN) break;
            closeClient(c);
            return;
        }
        c->outoff += n;
    }
    if (c->outoff == c->outlen) {
        free(c->out);
        c->out = NULL;
        c->outlen = c->outoff = 0;
    }
    watch(c);
}

static void login(Client *c) {
    char text[256];
    int n = 0;
    switch (dialect) {
    case GLOBALCHAT:
        n = strcmp(c->room, "lobby") ? snprintf(text, sizeof text, "%s\n/join %s\n", c->name, c->room)
                                     : snprintf(text, sizeof text, "%s\n", c->name);
        break;
    case FLOOR:
        n = snprintf(text, sizeof text, "%s #%s\n", c->name, c->room);
        break;
    case NCAT:
        break; /* ncat names its clients itself */
    case IRC:
        n = snprintf(text, sizeof text, "NICK %s\r\nUSER %s 0 * :%s\r\nJOIN #%s\r\n", c->name,
                     c->name, c->name, c->room);
        break;
    }
    queueOut(c, text, n);
    flush(c);
}

static int opened;

static void open1(Client *c) {
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0) {
        c->closed = 1;
        return;
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1, small = 4096;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* a slow reader's kernel must not soak up what the server has to deal with */
    if (c->slow) setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) {
        close(c->fd);
        c->closed = 1;
        return;
    }
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.u32 = (uint32_t)c->id};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl add");
}

static void readable(Client *c) {
    memcpy(buffer, c->carry ? c->carry : "", c->carrylen);
    ssize_t n = recv(c->fd, buffer + c->carrylen, CHUNK, 0);
    if (n <= 0) {
        if (n < 0 && errno == EAGAIN) return;
        closeClient(c);
        return;
    }
    long before = totalIntact;
    c->bytes += n;
    received(c, buffer, buffer + c->carrylen + n);
    if (c->slow && c->joined && !c->paused && !c->complete) {
        c->paused = 1; /* in: from now on it reads nothing until the end */
        watch(c);
    }
    if (totalIntact != before) {
        if (!firstAt) firstAt = now;
        lastAt = now;
    }
}

static void event(struct epoll_event *ev) {
    Client *c = &clients[ev->data.u32];
    if (c->closed) return;
    if (!c->connected && (ev->events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            closeClient(c);
            return;
        }
        c->connected = 1;
        login(c);
        return;
    }
    if (ev->events & EPOLLOUT) flush(c);
    if (!c->closed && (ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR))) readable(c);
}

/* One turn of the loop: wait up to timeout ms for sockets (and stdin). */
static int turn(int timeout) {
    struct epoll_event evs[256];
    int n = epoll_wait(epfd, evs, 256, timeout);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    now = wallclock();
    int control = 0;
    for (int i = 0; i < n; i++) {
        if (evs[i].data.u32 == UINT32_MAX)
            control = 1;
        else
            event(&evs[i]);
    }
    return control;
}

/* Wait for a control line from stdin, serving sockets meanwhile. */
static void awaitControl(const char *word) {
    char text[64];
    for (;;) {
        if (!turn(100)) continue;
        ssize_t n = read(0, text, sizeof text - 1);
        if (n <= 0) return; /* EOF: the driver is gone or done */
        text[n] = 0;
        if (strstr(text, word)) return;
    }
}

static void readConfig(void) {
    char text[512];
    while (fgets(text, sizeof text, stdin)) {
        char key[32], a[40], b[40];
        long x, y;
        if (sscanf(text, "%31s", key) != 1) continue;
        if (!strcmp(key, "end")) break;
        if (!strcmp(key, "port")) port = atoi(text + 5);
        else if (!strcmp(key, "server")) serverPid = atoi(text + 7);
        else if (!strcmp(key, "senders")) senders = atoi(text + 8);
        else if (!strcmp(key, "concurrency")) concurrency = atoi(text + 12);
        else if (!strcmp(key, "limits")) sscanf(text + 7, "%lf %lf %lf", &loginLimit, &stallLimit, &runLimit);
        else if (!strcmp(key, "interval")) interval = atof(text + 9);
        else if (!strcmp(key, "dialect")) {
            sscanf(text + 8, "%39s", a);
            dialect = !strcmp(a, "globalchat") ? GLOBALCHAT : !strcmp(a, "floor") ? FLOOR
                      : !strcmp(a, "ncat") ? NCAT : IRC;
        } else if (!strcmp(key, "client") && sscanf(text + 7, "%39s %39s %ld %ld", a, b, &x, &y) == 4) {
            if (nclients == ncap) {
                ncap = ncap ? 2 * ncap : 256;
                clients = realloc(clients, ncap * sizeof *clients);
            }
            Client *c = &clients[nclients];
            memset(c, 0, sizeof *c);
            c->id = nclients++;
            strcpy(c->name, a);
            strcpy(c->room, b);
            c->namelen = strlen(a);
            c->roomlen = strlen(b);
            c->sends = x;
            c->expect = y;
            c->slow = strstr(text + 7, " slow") != NULL;
        }
    }
}

/* One line of sender c, stamped now, framed for the dialect, into p. */
static int frame(Client *c, char *p, long seq) {
    char text[TEXT + 1];
    int n = snprintf(text, sizeof text, "%s:%ld:%.6f:", c->name, seq, wallclock());
    memset(text + n, 'x', TEXT - n);
    text[TEXT] = 0;
    return dialect == IRC ? sprintf(p, "PRIVMSG #%s :%s\r\n", c->room, text) : sprintf(p, "%s\n", text);
}

/* A paced sender's lines that are due by t (monotonic); the next due time. */
static double pace(Client *c, double t) {
    char line[TEXT + 80];
    while (c->nextSeq < c->sends && c->due <= t && !c->closed) {
        queueOut(c, line, frame(c, line, c->nextSeq++));
        c->due += interval;
    }
    if (c->out) flush(c);
    return c->nextSeq < c->sends && !c->closed ? c->due : 1e300;
}

/* A sender's lines, made before go so that go only has to write them. */
static void prepare(Client *c) {
    if (!c->sends || c->closed || interval > 0) return;
    size_t cap = c->sends * (TEXT + 32);
    char *out = malloc(cap), *p = out;
    for (long seq = 0; seq < c->sends; seq++) p += frame(c, p, seq);
    c->lines = out;
    c->lineslen = p - out;
}

int main(void) {
    readConfig();
    epfd = epoll_create1(0);
    if (epfd < 0) die("epoll_create1");
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev) < 0) die("epoll_ctl stdin");
    for (int i = 0; i < nclients; i++) {
        clients[i].lastSeq = malloc((senders ? senders : 1) * sizeof(int));
        memset(clients[i].lastSeq, 0xff, (senders ? senders : 1) * sizeof(int));
    }

    /* Log in, at most `concurrency` at a time. */
    double deadline = monotonic() + loginLimit;
    for (;;) {
        int pending = 0, joined = 0;
        for (int i = 0; i < opened; i++) {
            joined += clients[i].joined && !clients[i].closed;
            pending += !clients[i].joined && !clients[i].closed;
        }
        while (opened < nclients && (!concurrency || pending < concurrency)) {
            open1(&clients[opened++]);
            pending++;
        }
        if ((opened == nclients && !pending) || monotonic() > deadline) break;
        turn(50);
    }
    int joined = 0;
    for (int i = 0; i < nclients; i++) {
        joined += clients[i].joined && !clients[i].closed;
        prepare(&clients[i]);
    }
    printf("ready %d\n", joined);
    fflush(stdout);
    awaitControl("go");

    /* Chat: everybody's lines out, every line in checked. */
    double goAt = wallclock(), goMono = monotonic();
    long long serverGo = serverPid ? cpuTicks(serverPid) : -1;
    double kernelGo, selfGo = selfCpu(&kernelGo);
    int want = 0;
    for (int i = 0; i < nclients; i++) {
        Client *c = &clients[i];
        if (!c->joined || c->closed) continue;
        if (c->expect <= 0) c->complete = 1, completeCount++;
        want++;
        if (c->lines) {
            c->out = c->lines, c->outlen = c->lineslen, c->outoff = 0;
            flush(c);
        }
        /* paced senders start at spread-out moments within one interval */
        c->due = goMono + interval * ((c->id * 7919) % 1000) / 1000.0;
    }
    double quietSince = monotonic(), nextDue = goMono;
    long seen = -1;
    while (completeCount < want && monotonic() - goMono < runLimit) {
        double wait = nextDue - monotonic();
        turn(wait < 0 ? 0 : wait < 0.1 ? (int)(wait * 1000) + 1 : 100);
        double t = monotonic();
        nextDue = 1e300;
        if (interval > 0)
            for (int i = 0; i < nclients; i++) {
                Client *c = &clients[i];
                if (c->sends && c->joined) {
                    double due = pace(c, t);
                    if (due < nextDue) nextDue = due;
                }
            }
        long progress = totalIntact + totalMalformed;
        int sending = nextDue < 1e300;
        for (int i = 0; i < nclients && !sending; i++) sending = clients[i].outoff < clients[i].outlen;
        if (progress != seen || sending) {
            seen = progress;
            quietSince = t;
        } else if (t - quietSince > stallLimit)
            break;
    }
    double endAt = wallclock();
    long long serverEnd = serverPid ? cpuTicks(serverPid) : -1;
    double kernelEnd, selfEnd = selfCpu(&kernelEnd);

    /* Slow readers read again: did the server drop them, and what did
       they get? */
    int slow = 0, slowClosed = 0;
    long slowBytes = 0;
    for (int i = 0; i < nclients; i++)
        if (clients[i].slow && clients[i].paused) {
            clients[i].paused = 0;
            if (!clients[i].closed) watch(&clients[i]);
            slow++;
        }
    double until = monotonic() + stallLimit;
    while (slow && monotonic() < until) {
        turn(100);
        slowClosed = 0;
        for (int i = 0; i < nclients; i++) slowClosed += clients[i].slow && clients[i].closed;
        if (slowClosed == slow) break;
    }

    long received = 0, corrupted = 0, lost = 0, dropped = 0;
    for (int i = 0; i < nclients; i++) {
        Client *c = &clients[i];
        if (c->slow) {
            slowBytes += c->bytes;
            continue;
        }
        if (!c->joined) continue;
        long missing = c->expect - c->intact;
        if (missing < 0) missing = 0;
        long room = missing - c->reordered;
        long damaged = c->reordered + (c->malformed < (room > 0 ? room : 0) ? c->malformed : (room > 0 ? room : 0));
        received += c->intact;
        corrupted += damaged;
        lost += missing > damaged ? missing - damaged : 0;
        dropped += c->closed;
    }
    printf("tally clients=%d joined=%d received=%ld corrupted=%ld lost=%ld dropped=%ld "
           "goAt=%.6f firstAt=%.6f lastAt=%.6f endAt=%.6f serverTicks=%lld clockTicks=%ld "
           "generatorCpu=%.6f generatorKernel=%.6f slowClosed=%d slowBytes=%ld\n",
           nclients, want, received, corrupted, lost, dropped, goAt, firstAt, lastAt, endAt,
           serverGo >= 0 && serverEnd >= 0 ? serverEnd - serverGo : -1, sysconf(_SC_CLK_TCK),
           selfEnd - selfGo, kernelEnd - kernelGo, slowClosed, slowBytes);
    fflush(stdout);
    awaitControl("release");
    return 0;
}
