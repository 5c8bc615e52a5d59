/* The web server's protocol (services/web_server): the network stack parses nothing of HTTP but
 * where a request line and a request end; the server writes each response. It keeps no state
 * between calls -- a response is named by a token that carries all the server needs -- so
 * neither a rolling update of the stack nor of the server has any of its state to move.
 *
 * cap://web/v<version>/http (the alias cap://web/http reaches the first version):
 *   WEB_REQUEST  payload = an HTTP/1.1 request line without its CRLF ("GET /bulk/4096 HTTP/1.1"),
 *                1..WEB_LINE_MAX bytes. Reply: payload = the response head (status line,
 *                Content-Type, Content-Length, the blank line), words[0] = the body's length,
 *                words[1] = the response's token (never 0), words[2] = the status code. A line
 *                that is not "<method> <path> HTTP/1.x" gets 400 with an empty body; a method
 *                other than GET gets 501 with an empty body.
 *   WEB_HEAD     words[0] = a token. Reply: payload = that response's head again, words[0] = the
 *                body's length, words[2] = the status code. (A stack with several requests
 *                queued on a connection keeps their tokens, not their heads.)
 *   WEB_BODY     words[0] = a token, words[1] = an offset into the body, words[2] = a length of
 *                at most WEB_CHUNK_MAX that ends inside the body. Reply: payload = those bytes.
 * Every reply's label is WEB_OK or HIC_ERR_INVALID_ARGUMENT (an empty or longer line, a token the
 * server did not issue, a range outside the body, another label, a capability, which is deleted).
 *
 * The bodies are what the traffic generator's checks expect (traffic/): /bulk/N gives
 * N bytes (at most 1 MiB; the first 7 digits count, a non-digit among them gives 64); any other
 * path 64 + FNV-1a(path) % 1500 bytes; byte i of a body is 'a' + i % 26. */
#ifndef HIC_WEB_H
#define HIC_WEB_H

#define WEB_OK 0
#define WEB_REQUEST 1
#define WEB_HEAD 2
#define WEB_BODY 3

#define WEB_LINE_MAX 96    /* the longest request line the server takes */
#define WEB_HEAD_MAX 128   /* the longest head it writes */
#define WEB_CHUNK_MAX 1024 /* the most body bytes one WEB_BODY returns (HIC_MSG_PAYLOAD_MAX) */

#endif /* HIC_WEB_H */
