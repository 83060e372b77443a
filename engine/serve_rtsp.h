/*
 * serve_rtsp: `surge serve rtsp`, a synthetic RTSP source (RFC 2326) that
 * streams H.264-looking RTP over interleaved TCP to many readers cheaply,
 * with reproducible injected loss, reordering and jitter that it counts.
 * The protocol object is serve_rtsp_proto (serve.h); the pure pieces below
 * are exported for unit tests.
 */
#ifndef SURGE_SERVE_RTSP_H
#define SURGE_SERVE_RTSP_H

#include <stddef.h>
#include <stdint.h>

#define SERVE_RTSP_MAX_HEAD 8192 /* request line + headers */

/* One parsed request; pointers point into the caller's input. */
struct serve_rtsp_request {
	char method[16];
	const char *url;
	size_t url_len;
	long cseq; /* -1 when absent or not a number */
	const char *session, *transport; /* NULL when absent */
	size_t session_len, transport_len;
	size_t length; /* bytes of the whole message, body included */
};

/* Parses the request at in[0..len). Returns its length (> 0, also in
 * r->length), 0 when more input is needed, -EINVAL when it is not an RTSP
 * request, or -EMSGSIZE when the head exceeds SERVE_RTSP_MAX_HEAD. */
long serve_rtsp_parse(const uint8_t *in, size_t len, struct serve_rtsp_request *r);

/* How much of a PLAY's aggregate URL RTP-Info's track URLs start with: all
 * but the slashes at its end. A reader PLAYs the Content-Base, which ends in
 * "/" (RFC 2326 C.1.1), and "<url>/track<N>" would then name
 * ".../cam//track0", not the ".../cam/track0" it set up. */
size_t serve_rtsp_base_len(const char *url, size_t len);

/* The media index named by a SETUP URL ending in "/track<N>", or -1. */
int serve_rtsp_track_of(const char *url, size_t len);

/* Interleaved channels requested in a Transport header (RFC 2326 12.39).
 * Returns 0 and *rtp (RTCP is *rtp + 1) when "RTP/AVP/TCP" is offered;
 * *rtp = -1 if the client named no channels; -EPROTONOSUPPORT when only
 * other transports (UDP) are offered. */
int serve_rtsp_transport(const char *t, size_t len, int *rtp);

/* Writes one interleaved frame ('$', channel, 16-bit length) carrying an RTP
 * packet of `size` bytes (header included; size >= SERVE_RTSP_MIN_PACKET):
 * payload type 96, marker set; a keyframe is a STAP-A of SPS, PPS and an IDR
 * slice (RFC 6184 5.7.1), other packets a single non-IDR slice. Returns the
 * bytes written (size + 4), or -ENOSPC when cap is too small. */
#define SERVE_RTSP_MIN_PACKET 64
long serve_rtsp_packet(uint8_t *buf, size_t cap, uint8_t channel, uint16_t seq, uint32_t ts,
		       uint32_t ssrc, size_t size, int keyframe);

#endif
