'use strict';
// The scripted interop client on Node `ws`:  node client.js URL
// Prints `ok STEP` per step passed, then `PASS`; or `FAIL STEP: why` and exits with status 1.

const { WebSocket, OFFERED_PROTOCOLS, MAX_PAYLOAD, Inbox, runClient } = require('./conversation');

const url = process.argv[2];

function connect() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, OFFERED_PROTOCOLS, { perMessageDeflate: true, maxPayload: MAX_PAYLOAD, handshakeTimeout: 10000 });
    const inbox = new Inbox(ws);
    ws.once('open', () => resolve([ws, inbox]));
    ws.once('error', reject);
  });
}

runClient(connect, (line) => console.log(line)).then(
  () => { console.log('PASS'); process.exit(0); },
  (e) => { console.log(`FAIL ${e.message}`); process.exit(1); },
);
