// The keeper's side of its socket: listen (0600), authenticate a host by its hello (token, protocol version), and
// hand the keeper the frames of the host it attached.
import { createHash, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { FrameDecoder } from '../framing';
import { FrameType, KEEPER_PROTOCOL_VERSION, MAX_FRAME_BYTES, MAX_HELLO_BYTES, type Frame, type KeeperHello } from '../protocol';
import { log } from './log';

const AUTH_TIMEOUT_MS = 5000;

export interface HostSocketEvents {
  /** True while every hello is refused (the keeper is ending). */
  refusing(): boolean;
  /** A host authenticated; it has everything up to `lastSeq`. */
  attached(socket: net.Socket, lastSeq: number): void;
  /** Whether `socket` is the attached host (a window replaced by a newer one is ignored until it goes). */
  isCurrent(socket: net.Socket): boolean;
  /** A frame from the attached host; throwing drops the connection. */
  frame(frame: Frame): void;
  closed(socket: net.Socket): void;
  /** The server failed after it started listening. */
  failed(error: Error): void;
}

/** Listens on `socketPath` (created 0600) for hosts presenting `token`. */
export function listenForHosts(socketPath: string, token: string, events: HostSocketEvents): Promise<net.Server> {
  const tokenDigest = digest(token);
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => onConnection(socket, tokenDigest, events));
    server.once('error', reject);
    // The socket is created 0600: the directory is private too, but a socket should not rely on that alone.
    const previous = process.umask(0o177);
    server.listen(socketPath, () => {
      process.umask(previous);
      fs.chmodSync(socketPath, 0o600);
      server.off('error', reject);
      server.on('error', (error) => events.failed(error));
      resolve(server);
    });
  });
}

function onConnection(socket: net.Socket, tokenDigest: Buffer, events: HostSocketEvents): void {
  const decoder = new FrameDecoder(MAX_HELLO_BYTES);
  let authenticated = false;
  const authTimer = setTimeout(() => socket.destroy(), AUTH_TIMEOUT_MS);
  socket.on('error', () => undefined);
  socket.on('close', () => {
    clearTimeout(authTimer);
    events.closed(socket);
  });
  socket.on('data', (chunk: Buffer) => {
    let frames: Frame[];
    try {
      frames = decoder.push(chunk);
    } catch {
      socket.destroy();
      return;
    }
    for (const frame of frames) {
      if (socket.destroyed) return;
      if (!authenticated) {
        const hello = events.refusing() ? undefined : checkHello(frame, tokenDigest);
        // Refused: nothing is sent, not even a reason.
        if (!hello) return void socket.destroy();
        authenticated = true;
        clearTimeout(authTimer);
        decoder.maxFrameBytes = MAX_FRAME_BYTES;
        events.attached(socket, hello.lastSeq);
        continue;
      }
      if (!events.isCurrent(socket)) continue;
      try {
        events.frame(frame);
      } catch (error) {
        log(`dropping a host connection after a bad frame: ${(error as Error).message}`);
        socket.destroy();
        return;
      }
    }
  });
}

function checkHello(frame: Frame, tokenDigest: Buffer): KeeperHello | undefined {
  if (frame.type !== FrameType.hello) return undefined;
  let hello: KeeperHello;
  try {
    hello = JSON.parse(frame.body.toString('utf8')) as KeeperHello;
  } catch {
    return undefined;
  }
  if (!hello || typeof hello.token !== 'string' || hello.v !== KEEPER_PROTOCOL_VERSION) return undefined;
  if (!timingSafeEqual(digest(hello.token), tokenDigest)) return undefined;
  const lastSeq = Number.isSafeInteger(hello.lastSeq) && hello.lastSeq > 0 ? hello.lastSeq : 0;
  return { ...hello, lastSeq };
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Writes a record, whole or as parts (corked: the socket sends the parts with one writev, nothing concatenated). */
export function writeRecord(socket: net.Socket, record: Buffer | readonly Buffer[]): void {
  if (Buffer.isBuffer(record)) return void socket.write(record);
  socket.cork();
  for (const part of record) socket.write(part);
  socket.uncork();
}
