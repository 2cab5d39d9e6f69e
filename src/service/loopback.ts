// What counts as "this machine only": loopback addresses to listen on, and loopback names in a
// request's Host header (the DNS-rebinding guard of an open server).
import net from 'node:net';

/** Whether an IP address (or 'localhost') is a loopback address: 127.0.0.0/8, ::1, ::ffff:127.x.x.x. */
export function isLoopbackAddress(address: string): boolean {
  if (address === 'localhost') return true;
  const ip = address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
  if (net.isIPv4(ip)) return ip.startsWith('127.');
  // The URL parser writes IPv6 addresses in their shortest form, so every spelling of ::1 matches.
  return net.isIPv6(ip) && new URL(`http://[${ip}]/`).hostname === '[::1]';
}

/** The host name of a Host header without its port (`[::1]:8080` -> `[::1]`), lower-cased. */
export function hostName(header: string): string {
  const host = header.trim().toLowerCase();
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.lastIndexOf(':');
  return colon >= 0 ? host.slice(0, colon) : host;
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Whether a Host header names this machine (localhost, 127.0.0.1 or [::1], any port). */
export function isLoopbackHost(header: string | undefined): boolean {
  return header !== undefined && LOOPBACK_NAMES.has(hostName(header));
}
