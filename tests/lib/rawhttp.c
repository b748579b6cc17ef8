#include "tests/lib/rawhttp.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RAWHTTP_MAX_ANSWER (16u << 20) /* more than any route answers */
#define RAWHTTP_MAX_LENGTH 1000000000ULL

/* ---- the response parser ------------------------------------------------ */

/* The line at p[off..n) ends with CRLF (responses use no other line end):
 * return its length without the CRLF, -1 if more bytes are needed, or -2
 * for a bare CR or LF. */
static long crlf_line(const uint8_t *p, size_t n, size_t off)
{
    for (size_t i = off; i < n; i++) {
        if (p[i] == '\n')
            return -2;
        if (p[i] == '\r')
            return i + 1 < n ? (p[i + 1] == '\n' ? (long)(i - off) : -2) : -1;
    }
    return -1;
}

static bool is_tchar(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static unsigned hex_digit(uint8_t c)
{
    return isdigit(c) ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
}

/* "HTTP/1.x NNN reason": the status, or -EPROTO. */
static int parse_status_line(const uint8_t *l, size_t len)
{
    if (len < 12 || (memcmp(l, "HTTP/1.1 ", 9) != 0 && memcmp(l, "HTTP/1.0 ", 9) != 0))
        return -EPROTO;
    for (size_t i = 9; i < 12; i++)
        if (l[i] < '0' || l[i] > '9')
            return -EPROTO;
    int status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
    if (status < 100 || status > 599 || (len > 12 && l[12] != ' '))
        return -EPROTO;
    for (size_t i = 13; i < len; i++)
        if ((l[i] < 0x20 && l[i] != '\t') || l[i] == 0x7f)
            return -EPROTO;
    return status;
}

/* What the header fields say about the body. */
typedef struct {
    unsigned long long length;
    bool has_length, chunked;
} framing_t;

static int parse_length(const uint8_t *v, size_t len, framing_t *f)
{
    unsigned long long n = 0;
    if (len == 0 || len > 10)
        return -EPROTO;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -EPROTO;
        n = n * 10 + (unsigned)(v[i] - '0');
    }
    if (n > RAWHTTP_MAX_LENGTH || (f->has_length && f->length != n))
        return -EPROTO;
    f->length = n;
    f->has_length = true;
    return 0;
}

/* One "Name: value" field: well formed, and recorded if it frames the body
 * or types it. */
static int parse_field(const uint8_t *l, size_t len, framing_t *f, rawhttp_response_t *res)
{
    size_t name = 0;
    while (name < len && is_tchar(l[name]))
        name++;
    if (name == 0 || name == len || l[name] != ':')
        return -EPROTO;
    size_t v = name + 1, end = len;
    for (size_t i = v; i < len; i++)
        if ((l[i] < 0x20 && l[i] != '\t') || l[i] == 0x7f)
            return -EPROTO;
    while (v < end && (l[v] == ' ' || l[v] == '\t'))
        v++;
    while (end > v && (l[end - 1] == ' ' || l[end - 1] == '\t'))
        end--;
    if (name == 14 && strncasecmp((const char *)l, "Content-Length", 14) == 0)
        return parse_length(l + v, end - v, f);
    if (name == 17 && strncasecmp((const char *)l, "Transfer-Encoding", 17) == 0) {
        if (end - v != 7 || strncasecmp((const char *)l + v, "chunked", 7) != 0 || f->chunked)
            return -EPROTO; /* a server sends no other coding unasked */
        f->chunked = true;
    }
    if (name == 12 && strncasecmp((const char *)l, "Content-Type", 12) == 0)
        snprintf(res->content_type, sizeof res->content_type, "%.*s", (int)(end - v),
                 (const char *)l + v);
    return 0;
}

/* The status line and fields at p[0..n): the status, the framing, and
 * the offset of the body in *body_off. 1, 0 (more bytes needed) or -EPROTO. */
static int parse_head(const uint8_t *p, size_t n, framing_t *f, rawhttp_response_t *res,
                      size_t *body_off)
{
    long l = crlf_line(p, n, 0);
    if (l < 0)
        return l == -1 ? 0 : -EPROTO;
    if ((res->status = parse_status_line(p, (size_t)l)) < 0)
        return -EPROTO;
    size_t off = (size_t)l + 2;
    for (;;) {
        l = crlf_line(p, n, off);
        if (l < 0)
            return l == -1 ? 0 : -EPROTO;
        if (l == 0)
            break;
        if (parse_field(p + off, (size_t)l, f, res) < 0)
            return -EPROTO;
        off += (size_t)l + 2;
    }
    if (f->chunked && f->has_length)
        return -EPROTO;
    *body_off = off + 2;
    return 1;
}

/* The chunked body at p[0..n): 1 with the data appended to *body and the
 * bytes it took in *used, 0 if more are needed, -EPROTO. */
static int parse_chunks(const uint8_t *p, size_t n, uint8_t **body, size_t *blen, size_t *used)
{
    size_t off = 0;
    for (;;) {
        long l = crlf_line(p, n, off);
        if (l < 0)
            return l == -1 ? 0 : -EPROTO;
        unsigned long long size = 0;
        size_t i = 0;
        for (; i < (size_t)l && i < 9 && isxdigit(p[off + i]); i++)
            size = size * 16 + hex_digit(p[off + i]);
        if (i == 0 || (i < (size_t)l && p[off + i] != ';'))
            return -EPROTO;
        off += (size_t)l + 2;
        if (size == 0)
            break;
        if (size > n - off || n - off - size < 2)
            return size > RAWHTTP_MAX_ANSWER ? -EPROTO : 0;
        if (p[off + size] != '\r' || p[off + size + 1] != '\n')
            return -EPROTO;
        uint8_t *nb = realloc(*body, *blen + size + 1);
        if (nb == NULL)
            return -EPROTO;
        memcpy(nb + *blen, p + off, size);
        *body = nb;
        *blen += size;
        (*body)[*blen] = '\0';
        off += size + 2;
    }
    for (;;) { /* trailer fields, up to the empty line */
        long l = crlf_line(p, n, off);
        if (l < 0)
            return l == -1 ? 0 : -EPROTO;
        off += (size_t)l + 2;
        if (l == 0)
            break;
    }
    *used = off;
    return 1;
}

/* Copy p[n] into a new NUL-terminated res->body. */
static int body_copy(rawhttp_response_t *res, const uint8_t *p, size_t n)
{
    res->body = malloc(n + 1);
    if (res->body == NULL)
        return -EPROTO;
    memcpy(res->body, p, n);
    res->body[n] = '\0';
    res->body_len = n;
    return 1;
}

int rawhttp_parse(const uint8_t *p, size_t n, bool head, bool eof, rawhttp_response_t *res,
                  size_t *used)
{
    framing_t f = {0};
    size_t off = 0, took = 0;
    rawhttp_response_t r = {0};
    int rc = parse_head(p, n, &f, &r, &off);
    if (rc <= 0)
        return rc;
    r.has_length = f.has_length;
    r.chunked = f.chunked;
    if (head || r.status / 100 == 1 || r.status == 204 || r.status == 304) {
        rc = body_copy(&r, p, 0);
    } else if (f.chunked) {
        rc = parse_chunks(p + off, n - off, &r.body, &r.body_len, &took);
        off += took;
        if (rc == 1 && r.body == NULL)
            rc = body_copy(&r, p, 0);
    } else if (f.has_length) {
        if (n - off < f.length)
            return 0;
        rc = body_copy(&r, p + off, (size_t)f.length);
        off += (size_t)f.length;
    } else { /* delimited by the end of the connection */
        if (!eof)
            return 0;
        rc = body_copy(&r, p + off, n - off);
        off = n;
    }
    if (rc != 1) {
        rawhttp_response_free(&r);
        return rc;
    }
    *res = r;
    *used = off;
    return 1;
}

void rawhttp_response_free(rawhttp_response_t *res)
{
    if (res == NULL)
        return;
    free(res->body);
    res->body = NULL;
    res->body_len = 0;
}

/* ---- the request's framing, as a server would read it -------------------- */

/* The end of the head of req[len] (after its empty line), or 0 if the
 * empty line has not come yet. Lines end in LF, with or without CR. */
static size_t request_head_end(const uint8_t *req, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (req[i] != '\n')
            continue;
        if (i + 1 < len && req[i + 1] == '\n')
            return i + 2;
        if (i + 2 < len && req[i + 1] == '\r' && req[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

/* Whether the trailer section at p[n] has ended: an empty line. */
static bool trailers_end(const uint8_t *p, size_t n)
{
    if ((n >= 1 && p[0] == '\n') || (n >= 2 && p[0] == '\r' && p[1] == '\n'))
        return true;
    return request_head_end(p, n) != 0;
}

/* Whether the chunks at p[n] run up to the last one and its empty line;
 * a malformed size counts as complete (the server refuses it then). */
static bool chunks_complete(const uint8_t *p, size_t n)
{
    size_t off = 0;
    for (;;) {
        unsigned long long size = 0;
        size_t i = off;
        while (i < n && isxdigit(p[i]) && i - off < 16)
            size = size * 16 + hex_digit(p[i++]);
        if (i == n)
            return false; /* the size line goes on */
        if (i == off)
            return true;  /* not a size */
        const uint8_t *lf = memchr(p + i, '\n', n - i);
        if (lf == NULL)
            return false;
        off = (size_t)(lf - p) + 1;
        if (size == 0)
            return trailers_end(p + off, n - off);
        if (size > n - off)
            return false;
        off += size;
        if (off < n && p[off] == '\r')
            off++;
        if (off >= n)
            return false;
        off++; /* the LF, or what the server refuses in its place */
    }
}

/* What a request's head says about its body. */
typedef struct {
    size_t lengths;             /* Content-Length fields */
    unsigned long long length;  /* the last one's value */
    bool length_bad;            /* one that is not a number */
    bool coded, chunked;        /* Transfer-Encoding sent; it is "chunked" */
} request_framing_t;

/* The value of line[l] if its field is name (name ends in ':'), or NULL. */
static const char *field_value(const char *line, size_t l, const char *name)
{
    size_t n = strlen(name);
    if (l < n || strncasecmp(line, name, n) != 0)
        return NULL;
    return line + n + strspn(line + n, " \t");
}

static void scan_request_field(const char *line, size_t l, request_framing_t *f)
{
    const char *end = line + l, *v = field_value(line, l, "content-length:");
    if (v != NULL && v <= end) {
        f->lengths++;
        f->length_bad |= v == end || !isdigit((unsigned char)*v);
        for (f->length = 0; v < end && isdigit((unsigned char)*v) &&
                            f->length < RAWHTTP_MAX_LENGTH; v++)
            f->length = f->length * 10 + (unsigned)(*v - '0');
    }
    v = field_value(line, l, "transfer-encoding:");
    if (v != NULL && v <= end) {
        f->coded = true;
        f->chunked = end - v >= 7 && strncasecmp(v, "chunked", 7) == 0;
    }
}

bool rawhttp_request_complete(const uint8_t *req, size_t len)
{
    size_t end = request_head_end(req, len);
    request_framing_t f = {0};
    if (end == 0)
        return false;
    for (size_t off = 0; off < end;) {
        const uint8_t *lf = memchr(req + off, '\n', end - off);
        size_t l = (size_t)(lf - req) - off;
        scan_request_field((const char *)req + off, l, &f);
        off += l + 1;
    }
    if (f.lengths > 1 || f.length_bad || (f.coded && (f.lengths > 0 || !f.chunked)))
        return true; /* refused from the head alone */
    if (f.chunked)
        return chunks_complete(req + end, len - end);
    return len - end >= f.length;
}

/* ---- the exchange -------------------------------------------------------- */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A non-blocking TCP connection to 127.0.0.1:port that resets on close. */
static int connect_loopback(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct linger lg = {1, 0};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), e;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) != 0 ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
        e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

/* Send req[len]; stop early, without error, if the server stops reading
 * (it may have answered from the head alone and closed). */
static void send_request(int fd, const uint8_t *req, size_t len, int wait_ms)
{
    long long deadline = now_ms() + wait_ms;
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        struct pollfd p = {fd, POLLOUT, 0};
        long long left = deadline - now_ms();
        if (n == 0 || errno != EAGAIN || left <= 0 || poll(&p, 1, (int)left) <= 0)
            return;
    }
}

/* Read what is there into buf; return bytes read, 0 at the end, -EAGAIN
 * if nothing is waiting, or -ECONNRESET. */
static ssize_t read_some(int fd, uint8_t **buf, size_t *len, size_t *cap)
{
    if (*cap - *len < 4096) {
        size_t ncap = *cap ? *cap * 2 : 8192;
        uint8_t *nb = ncap <= RAWHTTP_MAX_ANSWER ? realloc(*buf, ncap) : NULL;
        if (nb == NULL)
            return -ENOMEM;
        *buf = nb;
        *cap = ncap;
    }
    ssize_t n = recv(fd, *buf + *len, *cap - *len, 0);
    if (n > 0)
        *len += (size_t)n;
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? -EAGAIN : errno == ECONNRESET ? -ECONNRESET
                                                                                 : -errno;
    return n;
}

/* Parse what has come in buf[len] from *off on: skip complete 1xx answers,
 * then 1 with the final one in out, 0 if more is needed, -EPROTO. */
static int take_answers(const uint8_t *buf, size_t len, size_t *off, bool head, bool eof,
                        rawhttp_result_t *out)
{
    for (;;) {
        size_t used = 0;
        int rc = rawhttp_parse(buf + *off, len - *off, head, eof, &out->res, &used);
        if (rc != 1)
            return rc;
        *off += used;
        if (out->res.status >= 200)
            return 1;
        rawhttp_response_free(&out->res);
        out->interim++;
    }
}

/* Read until a final answer is complete, the connection ends, or the
 * deadline of the phase (waiting for the first byte, then for the rest). */
static int read_answer(int fd, const rawhttp_opts_t *o, rawhttp_result_t *out)
{
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0, off = 0;
    long long start = now_ms();
    int rc = 0;
    for (;;) {
        long long limit = start + (len == 0 ? o->answer_ms : o->answer_ms + o->finish_ms);
        ssize_t n = read_some(fd, &buf, &len, &cap);
        bool eof = n == 0 || n == -ECONNRESET;
        out->reset |= n == -ECONNRESET;
        if (n > 0 || eof) {
            rc = take_answers(buf, len, &off, o->head, eof, out);
            if (rc == 1 || rc < 0 || eof)
                break;
            continue;
        }
        if (n != -EAGAIN) {
            rc = (int)n;
            break;
        }
        struct pollfd p = {fd, POLLIN, 0};
        long long left = limit - now_ms();
        if (left <= 0 || poll(&p, 1, (int)left) < 0) {
            rc = -ETIMEDOUT;
            break;
        }
    }
    out->received = len;
    if (rc == 0 || rc == -ETIMEDOUT) /* no final answer: was anything begun? */
        rc = len == off ? -EAGAIN : rc == 0 ? -EPROTO : -ETIMEDOUT;
    free(buf);
    return rc == 1 ? 0 : rc;
}

int rawhttp_exchange(const rawhttp_opts_t *opts, const uint8_t *req, size_t len,
                     rawhttp_result_t *out)
{
    memset(out, 0, sizeof *out);
    int fd = connect_loopback(opts->port);
    if (fd < 0)
        return fd;
    send_request(fd, req, len, opts->answer_ms + opts->finish_ms);
    if (opts->half_close)
        shutdown(fd, SHUT_WR);
    int rc = read_answer(fd, opts, out);
    close(fd);
    return rc;
}
