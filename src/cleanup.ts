// `weft agent --cleanup`: removes what an agent leaves in the kernel on purpose when it
// stops (so that VIP traffic and overlay routes survive a restart): the nft table and VIP
// interface of the load balancer, the overlay's VXLAN device and bridge, its masquerade
// table and DOCKER-USER rule, and the Docker network `weft`. Nothing else.
import type { Config } from './config.js';
import { Nft } from '../lb/nft.js';
import { DummyInterface } from '../lb/dummy.js';
import Dockerode from 'dockerode';
import { HostRules, OverlayDriver, DEFAULTS as OVERLAY_DEFAULTS } from '../overlay/index.js';
import { resolveSocket } from '../registrar/index.js';

export async function cleanupHost(config: Config): Promise<{ removed: string[]; failed: string[] }> {
  const removed: string[] = [];
  const failed: string[] = [];
  if (process.getuid?.() !== 0)
    return { removed, failed: ["weft agent --cleanup needs root (the kernel state it removes is root's)"] };
  // First: removing it makes dockerd delete its bridge, which is weft's overlay bridge.
  if (config.docker.enabled) removed.push(...(await removeDockerNetwork(config)));
  if (await Nft.usable()) {
    const nft = new Nft();
    try {
      // inet weft, and ip weft of an agent from before IPv6 VIPs.
      const found = [(await nft.read()).exists && 'inet', (await nft.legacyExists()) && 'ip'].filter(Boolean);
      if (found.length) {
        await nft.remove();
        removed.push(...found.map((f) => `nft table ${f} weft`));
      }
    } catch (e) {
      failed.push(`nft table inet weft: ${(e as Error).message}`);
    }
  }
  const vipIf = new DummyInterface();
  try {
    if ((await vipIf.addresses()) !== undefined) {
      await vipIf.remove();
      removed.push('interface weft-vip0');
    }
  } catch (e) {
    failed.push(`interface weft-vip0: ${(e as Error).message}`);
  }
  try {
    const r = await OverlayDriver.cleanupHost({ bridge: config.overlay.bridge || false });
    removed.push(...r.removed.map((d) => `overlay device ${d}`));
    failed.push(...r.failed.map((f) => `${f.line}: ${f.error}`));
  } catch (e) {
    failed.push(`overlay devices: ${(e as Error).message}`);
  }
  const rules = await HostRules.remove({ cidr: config.overlay.cidr });
  removed.push(...rules.removed);
  failed.push(...rules.failed);
  return { removed, failed };
}

/** The Docker network weft made (its label says so), its containers taken off first; nothing when no engine answers. */
async function removeDockerNetwork(config: Config): Promise<string[]> {
  const docker = new Dockerode({ socketPath: resolveSocket(config.docker.socket || undefined).socket });
  const name = OVERLAY_DEFAULTS.dockerNetwork;
  try {
    const n = (await docker.getNetwork(name).inspect()) as Dockerode.NetworkInspectInfo;
    if (n.Labels?.['weft.overlay.subnet'] === undefined) return [];
    for (const id of Object.keys(n.Containers ?? {}))
      await docker.getNetwork(n.Id).disconnect({ Container: id, Force: true });
    await docker.getNetwork(n.Id).remove();
    return [`docker network ${name}`];
  } catch {
    return []; // no engine, or no such network
  }
}
