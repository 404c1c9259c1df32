// Safe by default: an agent reachable from the network (gossip or API on a non-loopback
// address) must have gossip encryption keys and an API token, or the operator's explicit
// --insecure. Checked before anything binds, so the refusal costs nothing.
import { isIP } from 'node:net';
import type { Config } from './config.js';

export function isLoopback(addr: string): boolean {
  const a = addr.toLowerCase().replace(/^::ffff:/, '');
  if (isIP(a) === 4) return a.startsWith('127.');
  return a === '::1';
}

export interface Exposure {
  /** What listens beyond loopback ("gossip on 10.0.0.5"). */
  exposed: string[];
  /** What is missing for that ("no gossip encryption key"). */
  missing: string[];
}

/** What is exposed without protection; undefined when the agent is safe to start as configured. */
export function unprotectedExposure(config: Config): Exposure | undefined {
  const exposed: string[] = [];
  if (!isLoopback(config.gossip.bindAddr)) exposed.push(`gossip on ${config.gossip.bindAddr}`);
  if (!isLoopback(config.api.addr)) exposed.push(`the API on ${config.api.addr}`);
  if (!exposed.length) return undefined;
  const hasKeys = config.gossip.keys.length > 0 || config.gossip.keyFile !== '';
  const hasToken = config.api.token !== '' || config.api.tokenFile !== '';
  const missing = [...(hasKeys ? [] : ['no gossip encryption key']), ...(hasToken ? [] : ['no API token'])];
  return missing.length ? { exposed, missing } : undefined;
}

/** The one line an operator sees when the agent refuses to start. */
export function exposureMessage(e: Exposure): string {
  const make = [
    ...(e.missing.includes('no gossip encryption key') ? ['`weft keygen --out FILE` (gossip.keyFile)'] : []),
    ...(e.missing.includes('no API token') ? ['`weft keygen --token --out FILE` (api.tokenFile)'] : []),
  ];
  return `refusing to start: ${e.exposed.join(' and ')} with ${e.missing.join(' and ')}; make ${make.length > 1 ? 'them' : 'it'} with ${make.join(' and ')}, or pass --insecure to run unprotected`;
}
