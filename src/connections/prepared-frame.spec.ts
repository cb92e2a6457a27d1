import { describe, expect, it, jest } from '@jest/globals';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { PreparedFrame, writePrepared } from './prepared-frame.js';

describe('PreparedFrame', () => {
  it.each([
    [10, 2],
    [125, 2],
    [126, 4],
    [300, 4],
    [65_535, 4],
    [65_536, 10],
    [70_000, 10],
  ])('frames a %i-byte text message as one unmasked final text frame', (size, headerLength) => {
    const payload = 'x'.repeat(size);
    const frame = new PreparedFrame(payload);
    expect(frame.bytes[0]).toBe(0x81); // FIN + text opcode
    expect(frame.bytes[1] & 0x80).toBe(0); // not masked
    expect(frame.bytes.length).toBe(size + headerLength);
    expect(frame.bytes.subarray(headerLength).toString()).toBe(payload);
    if (headerLength === 4) expect(frame.bytes.readUInt16BE(2)).toBe(size);
    if (headerLength === 10) expect(frame.bytes.readBigUInt64BE(2)).toBe(BigInt(size));
  });

  it('encodes multi-byte characters by their UTF-8 length', () => {
    const frame = new PreparedFrame('同意继续');
    expect(frame.bytes[1]).toBe(12);
  });
});

describe('writePrepared against the installed ws', () => {
  it('finds the internals it relies on and delivers the frame intact', async () => {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(server, 'listening');
    const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const [serverSide] = (await once(server, 'connection')) as [WebSocket];
    const internals = serverSide as unknown as { _socket: unknown; _sender: { _state: number; _queue: unknown[] } };
    expect(internals._socket).toBeDefined();
    expect(internals._sender._state).toBe(0);
    expect(Array.isArray(internals._sender._queue)).toBe(true);

    const received = once(client, 'message');
    writePrepared(serverSide, new PreparedFrame('{"type":"hello","text":"同意继续"}'));
    const [data, isBinary] = (await received) as [Buffer, boolean];
    expect(isBinary).toBe(false);
    expect(JSON.parse(data.toString())).toEqual({ type: 'hello', text: '同意继续' });
    client.terminate();
    await new Promise((resolve) => server.close(resolve));
  });
});

describe('writePrepared on a socket that negotiated permessage-deflate', () => {
  it('hands the message to ws, which compresses it, instead of writing raw bytes', async () => {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: { threshold: 0 } });
    await once(server, 'listening');
    const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const [serverSide] = (await once(server, 'connection')) as [WebSocket];
    expect(serverSide.extensions).toContain('permessage-deflate');
    const send = jest.spyOn(serverSide, 'send');

    const received = once(client, 'message');
    writePrepared(serverSide, new PreparedFrame('{"type":"hello"}'));
    const [data] = (await received) as [Buffer];
    expect(send).toHaveBeenCalledWith('{"type":"hello"}');
    expect(JSON.parse(data.toString())).toEqual({ type: 'hello' });
    client.terminate();
    await new Promise((resolve) => server.close(resolve));
  });
});
