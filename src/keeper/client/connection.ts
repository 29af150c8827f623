// Opening one connection to a keeper: connect, authenticate with the token, read the welcome.
import * as net from 'node:net';
import { encodeJsonFrame, FrameDecoder } from '../framing';
import { FrameType, KEEPER_PROTOCOL_VERSION, type Frame, type KeeperWelcome } from '../protocol';

import { KeeperError } from './errors';
import { keeperPaths, readKeeperMetadata } from '../files';
import { isSameProcess } from '../../platform/process';
import type { KeeperMetadata } from '../protocol';
import type { KeeperRef } from './launcher';

export interface OpenConnection {
  socket: net.Socket;
  decoder: FrameDecoder;
  welcome: KeeperWelcome;
  /** Frames that arrived with the welcome. */
  rest: Frame[];
}

/** Connects, authenticates and reads the welcome; the socket is returned paused. */
export function openConnection(socketPath: string, token: string, lastSeq: number, timeoutMs: number): Promise<OpenConnection> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath);
    const decoder = new FrameDecoder();
    let settled = false;
    const settle = (error?: Error, connection?: OpenConnection): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      if (error) {
        socket.destroy();
        reject(error);
      } else resolve(connection as OpenConnection);
    };
    const timer = setTimeout(() => settle(new KeeperError('gone', `The keeper did not answer on ${socketPath} within ${timeoutMs} ms`)), timeoutMs);
    const onError = (error: NodeJS.ErrnoException): void => {
      const gone = error.code === 'ENOENT' || error.code === 'ECONNREFUSED';
      settle(gone ? new KeeperError('gone', `No keeper listens on ${socketPath} (${error.code})`) : error);
    };
    const onClose = (): void => settle(new KeeperError('refused', 'The keeper closed the connection without a welcome (wrong token, or it is ending)'));
    const onData = (chunk: Buffer): void => {
      let frames: Frame[];
      try {
        frames = decoder.push(chunk);
      } catch (error) {
        settle(error as Error);
        return;
      }
      if (frames.length === 0) return;
      const [first, ...rest] = frames;
      if (first.type !== FrameType.welcome) {
        settle(new KeeperError('refused', `The keeper answered with frame type ${first.type} instead of a welcome`));
        return;
      }
      let welcome: KeeperWelcome;
      try {
        welcome = JSON.parse(first.body.toString('utf8')) as KeeperWelcome;
      } catch (error) {
        settle(error as Error);
        return;
      }
      socket.pause();
      settle(undefined, { socket, decoder, welcome, rest });
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.once('connect', () => socket.write(encodeJsonFrame(FrameType.hello, { v: KEEPER_PROTOCOL_VERSION, token, lastSeq })));
  });
}


const RECONNECT_TIMEOUT_MS = 3000;

/**
 * Connects again to a keeper whose connection dropped, when its metadata says it still runs as the same process.
 * Returns the metadata read (for cleaning up after a keeper that is gone) and the connection, or why there is none.
 */
export async function reconnectToKeeper(ref: KeeperRef, lastSeq: number): Promise<{ metadata?: KeeperMetadata; connection?: OpenConnection; error?: Error }> {
  const paths = keeperPaths(ref.dir, ref.keeperId);
  const metadata = readKeeperMetadata(paths.metadata);
  try {
    if (!metadata || metadata.status === 'ended' || !isSameProcess(metadata.pid, metadata.pidStart)) return { metadata };
    return { metadata, connection: await openConnection(paths.socket, metadata.token, lastSeq, RECONNECT_TIMEOUT_MS) };
  } catch (error) {
    return { metadata, error: error as Error };
  }
}
