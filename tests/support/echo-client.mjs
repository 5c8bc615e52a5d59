#!/usr/bin/env node
// A Linux TCP client for the echo service, run inside the peer's network namespace by the TAP
// bridge tests (`ip netns exec hic-peer node echo-client.mjs …`): the Linux kernel's TCP on one
// side, the guest netstack on the other. It sends a deterministic byte stream, reads the echo,
// and prints one JSON line: bytes each way, the SHA-256 of each, whether the echo matched byte
// for byte, and any socket error (a reset shows here as ECONNRESET).
//
//   node echo-client.mjs HOST PORT bulk BYTES        send BYTES at once, half-close, read to the end
//   node echo-client.mjs HOST PORT stream CHUNK MS   send CHUNK bytes every MS ms until stdin says
//                                                    "stop" (or closes); prints "connected" first,
//                                                    then "echoed N" lines as the echo comes back
// Plain Node, no dependencies: it runs in the namespace with the host's node.

import { createHash } from 'node:crypto';
import { connect } from 'node:net';

const [host, portText, mode, a, b] = process.argv.slice(2);
const port = Number(portText);

/** Byte i of the stream: an LCG over the position, so any slice can be checked alone. */
function pattern(from, length) {
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) {
    const x = from + i;
    out[i] = ((Math.imul(x, 2654435761) >>> 13) ^ (x >>> 7)) & 0xff;
  }
  return out;
}

const sentHash = createHash('sha256');
const receivedHash = createHash('sha256');
let sent = 0;
let received = 0;
let mismatchAt = -1;
let error = null;
const socket = connect({ host, port });
socket.setNoDelay(true);

socket.on('data', (chunk) => {
  if (mismatchAt < 0 && !pattern(received, chunk.length).equals(chunk)) {
    const want = pattern(received, chunk.length);
    let i = 0;
    while (want[i] === chunk[i]) i++;
    mismatchAt = received + i;
  }
  receivedHash.update(chunk);
  received += chunk.length;
  if (mode === 'stream') process.stdout.write(`echoed ${received}\n`);
});
socket.on('error', (e) => (error = e.code ?? e.message));
socket.on('close', () => {
  process.stdout.write(
    JSON.stringify({ sent, received, sha256Sent: sentHash.digest('hex'), sha256Received: receivedHash.digest('hex'), exact: mismatchAt < 0 && sent === received, mismatchAt, error }) + '\n',
  );
  process.exitCode = error || mismatchAt >= 0 || sent !== received ? 1 : 0;
});

function send(length) {
  const chunk = pattern(sent, length);
  sentHash.update(chunk);
  sent += length;
  return socket.write(chunk);
}

socket.on('connect', () => {
  if (mode === 'bulk') {
    const total = Number(a);
    const step = 64 * 1024;
    const pump = () => {
      while (sent < total) if (!send(Math.min(step, total - sent))) return void socket.once('drain', pump);
      socket.end();
    };
    pump();
    return;
  }
  process.stdout.write('connected\n');
  const chunk = Number(a);
  const timer = setInterval(() => send(chunk), Number(b));
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    socket.end();
  };
  process.stdin.on('data', (d) => String(d).includes('stop') && stop());
  process.stdin.on('end', stop);
});
