'use strict';
// The interop conversation of conformance/src/script.rs, for Node `ws`. server.js and
// client.js run it; README.md (conformance/) describes it step by step.

const WebSocket = require('ws');

const OFFERED_PROTOCOLS = ['chat.v2', 'chat.v1'];
const SERVER_PROTOCOL = 'chat.v1';
const STEP_TIMEOUT_MS = 10000;
const MAX_PAYLOAD = 16 << 20;

const LARGE_BINARY = Buffer.alloc(1 << 20);
for (let i = 0; i < LARGE_BINARY.length; i++) LARGE_BINARY[i] = (i * 31 + 7) % 251;
const LARGE_TEXT = 'ab ü ✓ 123456'.repeat(1 << 16);
if (Buffer.byteLength(LARGE_TEXT) !== 1 << 20) throw new Error('the large text is not 1 MiB');

class StepFailed extends Error {}

function deflateInUse(ws) {
  return ws.extensions.includes('permessage-deflate');
}

// Messages, pings, pongs and the close of one connection, as a queue to await.
class Inbox {
  constructor(ws) {
    this.items = [];
    this.waiters = [];
    ws.on('message', (data, isBinary) => this.push({ kind: isBinary ? 'binary' : 'text', data: isBinary ? data : data.toString() }));
    ws.on('ping', (data) => this.push({ kind: 'ping', data: data.toString() }));
    ws.on('pong', (data) => this.push({ kind: 'pong', data: data.toString() }));
    ws.addEventListener('close', (e) => this.push({ kind: 'close', code: e.code, reason: e.reason, clean: e.wasClean }));
    ws.on('error', (e) => this.push({ kind: 'error', data: String(e) }));
  }

  push(item) {
    const waiter = this.waiters.shift();
    if (waiter) waiter(item);
    else this.items.push(item);
  }

  next() {
    if (this.items.length) return Promise.resolve(this.items.shift());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new StepFailed('timed out waiting for the peer')), STEP_TIMEOUT_MS);
      this.waiters.push((item) => { clearTimeout(timer); resolve(item); });
    });
  }

  // The next text or binary message (pings and pongs are skipped).
  async data() {
    for (;;) {
      const item = await this.next();
      if (item.kind === 'text' || item.kind === 'binary') return item;
      if (item.kind === 'close' || item.kind === 'error') throw new StepFailed(`the connection ended: ${describe(item)}`);
    }
  }
}

function describe(item) {
  if (item.kind === 'close') return `close ${item.code} ${JSON.stringify(item.reason)} (clean: ${item.clean})`;
  if (item.data === undefined) return item.kind;
  const size = item.data.length;
  return size <= 64 ? `${item.kind} ${JSON.stringify(item.kind === 'binary' ? [...item.data] : item.data)}` : `${item.kind} of ${size} chars/bytes`;
}

function same(item, kind, data) {
  if (item.kind !== kind) return false;
  return kind === 'binary' ? Buffer.compare(item.data, data) === 0 : item.data === data;
}

// The scripted server's behaviour on one connection.
function serve(ws, state) {
  let lastPing = null;
  ws.on('pong', (data) => {
    if (lastPing && data.toString() === lastPing) {
      lastPing = null;
      ws.send('pong:ping-from-server');
    }
  });
  ws.on('close', (code, reason) => {
    state.lastClose = `${code}:${reason.toString()}`;
    for (const waiter of state.waiters.splice(0)) waiter();
  });
  ws.on('message', (data, isBinary) => {
    const text = isBinary ? null : data.toString();
    if (text === null || !text.startsWith('cmd:')) {
      ws.send(data, { binary: isBinary });
      return;
    }
    const parts = text.split(':');
    const command = parts[1];
    if (text === 'cmd:info') {
      ws.send(`protocol=${ws.protocol || 'none'};deflate=${deflateInUse(ws) ? 'yes' : 'no'}`);
    } else if (text === 'cmd:fragments') {
      ws.send('alpha-', { fin: false });
      ws.send('beta-', { fin: false });
      ws.send('gamma', { fin: true });
    } else if (text === 'cmd:ping') {
      lastPing = 'ping-from-server';
      ws.ping(lastPing);
    } else if (text === 'cmd:last-close') {
      const reply = () => ws.send(state.lastClose || 'none');
      if (state.lastClose) reply();
      else {
        const timer = setTimeout(reply, 5000);
        state.waiters.push(() => { clearTimeout(timer); reply(); });
      }
    } else if (command === 'close' && parts.length >= 4) {
      ws.close(Number(parts[2]), parts.slice(3).join(':'));
    } else {
      ws.send(`error:unknown command ${JSON.stringify(text)}`);
    }
  });
}

// The scripted client; connect() opens a connection (it is called twice).
async function runClient(connect, log) {
  const step = async (name, action) => {
    let detail;
    try {
      detail = await action();
    } catch (e) {
      throw new StepFailed(`${name}: ${e.message}`);
    }
    log(`ok ${name}` + (detail ? ` (${detail})` : ''));
  };
  const expectData = async (inbox, kind, data) => {
    const got = await inbox.data();
    if (!same(got, kind, data)) throw new StepFailed(`expected ${describe({ kind, data })}, got ${describe(got)}`);
  };
  const echo = async (ws, inbox, kind, data) => {
    ws.send(data, { binary: kind === 'binary' });
    await expectData(inbox, kind, data);
  };
  const request = async (ws, inbox, command, expected) => {
    ws.send(command);
    await expectData(inbox, 'text', expected);
  };
  const closeEvent = async (inbox) => {
    for (;;) {
      const item = await inbox.next();
      if (item.kind === 'close') return item;
      if (item.kind !== 'ping' && item.kind !== 'pong') throw new StepFailed(`unexpected ${describe(item)} while closing`);
    }
  };

  let [ws, inbox] = await connect().catch((e) => { throw new StepFailed(`connect: ${e.message}`); });
  await step('subprotocol', async () => {
    if (ws.protocol !== SERVER_PROTOCOL) throw new StepFailed(`agreed on ${JSON.stringify(ws.protocol)}, expected ${SERVER_PROTOCOL}`);
  });
  await step('info', async () => {
    ws.send('cmd:info');
    const reply = await inbox.data();
    const prefix = 'protocol=chat.v1;deflate=';
    if (reply.kind !== 'text' || !reply.data.startsWith(prefix)) throw new StepFailed(`server said ${describe(reply)}`);
    const server = reply.data.slice(prefix.length);
    const ours = deflateInUse(ws) ? 'yes' : 'no';
    if (!(ours === 'yes' && server === 'yes')) {
      throw new StepFailed(`permessage-deflate not in use on both ends (client: ${ours}, server: ${server})`);
    }
    return `permessage-deflate: client ${ours}, server ${server}`;
  });
  await step('text', () => echo(ws, inbox, 'text', 'Hello, wörld ✓'));
  await step('binary', () => echo(ws, inbox, 'binary', Buffer.from([...Array(256).keys()])));
  await step('1 MiB binary', () => echo(ws, inbox, 'binary', LARGE_BINARY));
  await step('1 MiB text', () => echo(ws, inbox, 'text', LARGE_TEXT));
  await step('fragmented send', async () => {
    ws.send('frag', { fin: false });
    ws.send('mented ', { fin: false });
    ws.send('text ✓', { fin: true });
    await expectData(inbox, 'text', 'fragmented text ✓');
  });
  await step('fragmented receive', () => request(ws, inbox, 'cmd:fragments', 'alpha-beta-gamma'));
  await step('ping', async () => {
    ws.ping('ping-from-client');
    for (;;) {
      const item = await inbox.next();
      if (item.kind === 'pong' && item.data === 'ping-from-client') return;
      if (item.kind !== 'ping') throw new StepFailed(`expected our pong, got ${describe(item)}`);
    }
  });
  await step('server ping', async () => {
    ws.send('cmd:ping');
    let pinged = false;
    for (;;) {
      const item = await inbox.next();
      if (item.kind === 'ping' && item.data === 'ping-from-server') pinged = true;
      else if (pinged && same(item, 'text', 'pong:ping-from-server')) return;
      else throw new StepFailed(`unexpected ${describe(item)} (pinged: ${pinged})`);
    }
  });
  await step('client close', async () => {
    ws.close(4001, 'client bye ✓');
    const close = await closeEvent(inbox);
    if (!close.clean) throw new StepFailed(`the close was not clean: ${describe(close)}`);
    return `server replied ${close.code} ${JSON.stringify(close.reason)}`;
  });

  [ws, inbox] = await connect().catch((e) => { throw new StepFailed(`second connect: ${e.message}`); });
  await step('close seen by server', () => request(ws, inbox, 'cmd:last-close', '4001:client bye ✓'));
  await step('server close', async () => {
    ws.send('cmd:close:4002:server bye ✓');
    const close = await closeEvent(inbox);
    if (!close.clean || close.code !== 4002 || close.reason !== 'server bye ✓') {
      throw new StepFailed(`expected a clean Close 4002 "server bye ✓", got ${describe(close)}`);
    }
  });
}

module.exports = { WebSocket, OFFERED_PROTOCOLS, SERVER_PROTOCOL, MAX_PAYLOAD, StepFailed, Inbox, serve, runClient };
