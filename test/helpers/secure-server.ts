/** A Server for security tests on 127.0.0.1 port 0 over a fresh broker, with what onClientError reported; `stop` closes both. */
import { Broker } from '../../lib/broker/broker';
import { Server, type ConnectionProblem, type ServerOptions } from '../../lib/kafka';
import { tmpDir } from './tmp';

export interface SecureServer {
  dir: string;
  broker: Broker;
  server: Server;
  address: string;
  problems: ConnectionProblem[];
  stop: () => Promise<void>;
}

/** `before` runs on the data directory before the server starts (users to add). */
export async function secureServer(options: Partial<ServerOptions>, before: (dir: string) => Promise<unknown> = async () => {}): Promise<SecureServer> {
  const dir = tmpDir();
  const broker = await Broker.open(dir);
  await before(dir);
  const problems: ConnectionProblem[] = [];
  let server: Server;
  try {
    server = await Server.start({ broker, port: 0, groupInitialRebalanceDelayMs: 0, onClientError: (p) => problems.push(p), ...options });
  } catch (e) {
    await broker.close();
    throw e;
  }
  const stop = async (): Promise<void> => {
    await server.close();
    await broker.close();
  };
  return { dir, broker, server, address: `127.0.0.1:${server.address.port}`, problems, stop };
}
