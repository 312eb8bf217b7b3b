import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A TCP relay between the agent and the shared Samba DC, so a test can make "the DC" stall or
 * vanish without touching the real one (other suites count on it being up).
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly pairs = new Set<[Socket, Socket]>();
  private paused = false;
  private holding = false;
  private readonly held: (() => void)[] = [];
  /** When set, every connection is cut once the server has sent this many bytes through it. */
  private cutAfter: number | undefined;
  /** When set, the server's replies are held (as by hold()) once it has sent this many bytes through a connection. */
  private holdAfter: number | undefined;
  /** Bytes the server sent through connections that were cut. */
  cutAtBytes: number[] = [];
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(): Promise<this> {
    this.server = createServer((client) => {
      if (this.paused) {
        // Accept and then say nothing: what a hung DC looks like to the agent.
        client.on('error', () => undefined);
        this.pairs.add([client, client]);
        return;
      }
      const upstream = connect(this.targetPort, this.targetHost);
      const pair: [Socket, Socket] = [client, upstream];
      this.pairs.add(pair);
      let fromServer = 0;
      client.on('data', (d) => upstream.write(d));
      upstream.on('data', (d: Buffer) => {
        if (!this.holding && this.holdAfter !== undefined && fromServer + d.length > this.holdAfter) {
          const pass = Math.max(0, this.holdAfter - fromServer);
          fromServer += pass;
          client.write(d.subarray(0, pass));
          d = d.subarray(pass);
          this.holding = true;
        }
        if (this.holding) {
          upstream.pause();
          this.held.push(() => {
            upstream.emit('data', d);
            upstream.resume();
          });
          return;
        }
        fromServer += d.length;
        if (this.cutAfter !== undefined && fromServer >= this.cutAfter) {
          this.cutAtBytes.push(fromServer);
          client.write(d.subarray(0, Math.max(0, d.length - (fromServer - this.cutAfter))));
          this.cut(pair);
          return;
        }
        client.write(d);
      });
      const close = (): void => this.cut(pair);
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
    });
    // On the target's own loopback address when it has one (a helper's DC on 127.0.0.3, see
    // scripts/samba-up.sh): tests put the proxy's port into the DC's URL, host unchanged, so its
    // certificate still names the host they connect to.
    const host = /^127\.\d+\.\d+\.\d+$/.test(this.targetHost) ? this.targetHost : '127.0.0.1';
    await new Promise<void>((resolve) => this.server!.listen(0, host, resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** New connections hang (accepted, never answered); existing ones keep working. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  /** Stops passing the server's replies on (they wait, nothing is lost): a DC that has gone very slow. */
  hold(): void {
    this.holding = true;
  }

  /** Passes on what was held, and holds nothing more (a holdAfterServerBytes limit is dropped too). */
  release(): void {
    this.holdAfter = undefined;
    this.holding = false;
    for (const flush of this.held.splice(0)) flush();
  }

  /** Passes `bytes` of the server's replies through a connection, then holds the rest: a DC that stalls in the middle of a scan. */
  holdAfterServerBytes(bytes: number | undefined): void {
    this.holdAfter = bytes;
  }

  /** Cuts each connection after the server sent `bytes` through it: a DC that dies in the middle of a reply. */
  cutAfterServerBytes(bytes: number | undefined): void {
    this.cutAfter = bytes;
  }

  /** Resets every connection now. */
  cutAll(): void {
    for (const pair of this.pairs) this.cut(pair);
  }

  async stop(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  private cut(pair: [Socket, Socket]): void {
    if (!this.pairs.delete(pair)) return;
    pair[0].destroy();
    pair[1].destroy();
  }
}
