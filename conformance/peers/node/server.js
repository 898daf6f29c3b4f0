'use strict';
// The scripted interop server on Node `ws`:  node server.js
// Listens on an ephemeral port of 127.0.0.1, prints `listening on PORT`, serves until killed.

const { WebSocket, SERVER_PROTOCOL, MAX_PAYLOAD, serve } = require('./conversation');

const state = { lastClose: null, waiters: [] };
const server = new WebSocket.Server({
  host: '127.0.0.1',
  port: 0,
  perMessageDeflate: true,
  maxPayload: MAX_PAYLOAD,
  handleProtocols: (protocols) => (protocols.has(SERVER_PROTOCOL) ? SERVER_PROTOCOL : false),
});
server.on('connection', (ws) => serve(ws, state));
server.on('listening', () => console.log(`listening on ${server.address().port}`));
