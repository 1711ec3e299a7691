// `HOST:PORT` strings as the config and the CLI take them (IPv6 in brackets).
export function splitHostPort(hostPort: string): { host: string; port: number } {
  const i = hostPort.lastIndexOf(':');
  return { host: hostPort.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(hostPort.slice(i + 1)) };
}

export function isLoopback(hostPort: string): boolean {
  const { host } = splitHostPort(hostPort);
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}
