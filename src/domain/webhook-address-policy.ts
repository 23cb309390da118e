/**
 * Which addresses webhooks may be sent to. A webhook URL is chosen by whoever holds a `site.admin` key, and
 * the server sends the POST from inside the operator's network: left open, a subscription could reach a
 * loopback admin port, a private service or a cloud metadata endpoint (which hands out credentials). So
 * every address that is not public unicast is refused, in every spelling an IPv6 address can carry an IPv4
 * one in, unless the operator allows its range (SAFEKEEP_WEBHOOK_ALLOWED_CIDRS).
 *
 * Pure: no I/O, no name resolution. The subscription check and the deliverer's connect-time check both use
 * it, so they never disagree.
 */

/** An IPv4 or IPv6 network: `bits` leading bits of `base`. */
export interface Cidr {
  readonly family: 4 | 6;
  readonly base: bigint;
  readonly bits: number;
  /** As written by the operator, for messages. */
  readonly text: string;
}

/** A parsed IP address: 32 (IPv4) or 128 (IPv6) bits. */
interface Ip {
  readonly family: 4 | 6;
  readonly value: bigint;
}

const width = { 4: 32, 6: 128 } as const;

/** The IPv4 address of a strict dotted quad (`a.b.c.d`, decimal, no leading zeros beyond `0`), or undefined. */
function parseIPv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part) || Number(part) > 255) return undefined;
    value = (value << 8n) | BigInt(part);
  }
  return value;
}

/** The IPv6 address of its text form (`::` and a trailing dotted quad allowed, zone id ignored), or undefined. */
function parseIPv6(input: string): bigint | undefined {
  const text = input.replace(/%.*$/, '');
  if (!/^[0-9a-fA-F:.]+$/.test(text)) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (half: string): number[] | undefined => {
    if (half === '') return [];
    const groups: number[] = [];
    const parts = half.split(':');
    for (const [i, part] of parts.entries()) {
      if (i === parts.length - 1 && part.includes('.')) {
        const v4 = parseIPv4(part);
        if (v4 === undefined) return undefined;
        groups.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else if (/^[0-9a-fA-F]{1,4}$/.test(part)) {
        groups.push(parseInt(part, 16));
      } else {
        return undefined;
      }
    }
    return groups;
  };
  const head = groupsOf(halves[0] ?? '');
  const tail = halves.length === 2 ? groupsOf(halves[1] ?? '') : [];
  if (!head || !tail) return undefined;
  // A dotted quad may only end the address.
  if (halves.length === 2 && (halves[0] ?? '').includes('.')) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  let value = 0n;
  for (const group of [...head, ...new Array<number>(missing).fill(0), ...tail])
    value = (value << 16n) | BigInt(group);
  return value;
}

function parseIp(text: string): Ip | undefined {
  const v4 = parseIPv4(text);
  if (v4 !== undefined) return { family: 4, value: v4 };
  const v6 = parseIPv6(text);
  return v6 === undefined ? undefined : { family: 6, value: v6 };
}

/** A CIDR (`10.0.0.0/8`, `fd00::/8`, or a bare address for a single host), or undefined when malformed. */
export function parseCidr(text: string): Cidr | undefined {
  const [address = '', length, extra] = text.trim().split('/');
  if (extra !== undefined) return undefined;
  const ip = parseIp(address);
  if (!ip) return undefined;
  const max = width[ip.family];
  if (length !== undefined && !/^\d{1,3}$/.test(length)) return undefined;
  const bits = length === undefined ? max : Number(length);
  if (bits > max) return undefined;
  return { family: ip.family, base: ip.value, bits, text: text.trim() };
}

function contains(cidr: Cidr, ip: Ip): boolean {
  if (cidr.family !== ip.family) return false;
  const shift = BigInt(width[ip.family] - cidr.bits);
  return ip.value >> shift === cidr.base >> shift;
}

function formatIPv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
}

function range(text: string): Cidr {
  const cidr = parseCidr(text);
  if (!cidr) throw new Error(`bad built-in range ${text}`);
  return cidr;
}

/**
 * A special-purpose range. An IPv6 range whose traffic ends up at an IPv4 address it carries (mapped, NAT64,
 * 6to4) has `embedsIPv4At`, that address's bit offset from the left: the IPv4 address is checked instead
 * of refusing the whole range. Every other range is refused whole.
 */
interface Rule {
  readonly cidr: Cidr;
  readonly name: string;
  readonly embedsIPv4At?: number;
}

function rule(text: string, name: string, embedsIPv4At?: number): Rule {
  return { cidr: range(text), name, ...(embedsIPv4At !== undefined && { embedsIPv4At }) };
}

// First match wins, so the narrower ranges come first.
const ipv4Rules: readonly Rule[] = [
  rule('0.0.0.0/8', '"this network"'),
  rule('10.0.0.0/8', 'private'),
  rule('100.64.0.0/10', 'shared address space, carrier-grade NAT; Alibaba Cloud metadata is 100.100.100.200'),
  rule('127.0.0.0/8', 'loopback'),
  rule('169.254.0.0/16', 'link-local, cloud metadata'),
  rule('172.16.0.0/12', 'private'),
  rule('192.0.0.0/24', 'IETF protocol assignments'),
  rule('192.0.2.0/24', 'documentation'),
  rule('192.88.99.0/24', '6to4 relay anycast'),
  rule('192.168.0.0/16', 'private'),
  rule('198.18.0.0/15', 'benchmarking'),
  rule('198.51.100.0/24', 'documentation'),
  rule('203.0.113.0/24', 'documentation'),
  rule('224.0.0.0/4', 'multicast'),
  rule('255.255.255.255/32', 'broadcast'),
  rule('240.0.0.0/4', 'reserved'),
];

// Local-use NAT64 (64:ff9b:1::/48), SIIT and Teredo are refused whole: their IPv4 side is the operator's
// own translator's to decide (Teredo's is even XOR-ed), and no public receiver needs them.
const ipv6Rules: readonly Rule[] = [
  rule('::/128', 'unspecified'),
  rule('::1/128', 'loopback'),
  rule('::ffff:0:0/96', 'IPv4-mapped', 96),
  rule('::ffff:0:0:0/96', 'IPv4-translated, SIIT'),
  rule('::/96', 'IPv4-compatible, deprecated'),
  rule('64:ff9b::/96', 'NAT64', 96),
  rule('64:ff9b:1::/48', 'local-use NAT64'),
  rule('100::/64', 'discard-only'),
  rule('2001::/32', 'Teredo'),
  rule('2001:db8::/32', 'documentation'),
  rule('2002::/16', '6to4', 16),
  rule('fc00::/7', 'unique-local'),
  rule('fe80::/10', 'link-local'),
  rule('fec0::/10', 'site-local, deprecated'),
  rule('ff00::/8', 'multicast'),
];

/** Everything outside it is unassigned or special-purpose: no public receiver lives there. */
const globalUnicast = range('2000::/3');

// Names that reach a cloud metadata service (or this host) without any address in the URL.
const metadataNames = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'metadata.azure.internal',
  'metadata.azure.com',
  'instance-data',
  'instance-data.ec2.internal',
  'metadata.packet.net',
  'metadata.platformequinix.com',
  'metadata.tencentyun.com',
  'metadata.oraclecloud.com',
  'metadata.hetzner.cloud',
  'kubernetes.default.svc',
]);

/** The loopback address `localhost` stands for. */
const loopbackV4: Ip = { family: 4, value: parseIPv4('127.0.0.1') ?? 0n };

/**
 * The webhook address rules: every non-public range refused (with the range and its name as the reason),
 * except the ranges the operator allows. The allowlist overrides range rules only; names of cloud metadata
 * services are refused whatever it says, and `localhost` (and `*.localhost`) counts as 127.0.0.1.
 */
export class WebhookAddressPolicy {
  /** The operator's allowed ranges, as given. */
  readonly allowed: readonly Cidr[];

  /** @throws Error when an entry is not a CIDR (the config validates them first, with a clear message). */
  constructor(allowedCidrs: readonly string[] = []) {
    this.allowed = allowedCidrs.map((text) => {
      const cidr = parseCidr(text);
      if (!cidr) throw new Error(`not a CIDR: "${text}"`);
      return cidr;
    });
  }

  /**
   * Why webhooks may not go to this IP address (IPv4 dotted quad or IPv6 text, unbracketed), or undefined
   * when they may. A string that is no IP address is refused.
   */
  addressRefusal(address: string): string | undefined {
    const ip = parseIp(address);
    if (!ip) return `${address} is not an IP address`;
    const why = this.refusalOf(ip);
    return why === undefined ? undefined : `${address} ${why}`;
  }

  /**
   * Why webhooks may not go to this URL host (`URL.hostname`: a name, a normalised IPv4 address or a
   * bracketed IPv6 address), or undefined when nothing in the host itself forbids it (a name's addresses
   * are checked when the deliverer resolves it).
   */
  hostRefusal(hostname: string): string | undefined {
    const host = hostname.toLowerCase().replace(/\.+$/, '');
    if (host.startsWith('[') && host.endsWith(']')) return this.addressRefusal(host.slice(1, -1));
    if (parseIPv4(host) !== undefined) return this.addressRefusal(host);
    if (host === '') return 'the host is empty';
    if (metadataNames.has(host)) return `${host} is a cloud metadata service name`;
    if (host === 'localhost' || host.endsWith('.localhost')) {
      return this.refusalOf(loopbackV4) === undefined ? undefined : `${host} is loopback (127.0.0.0/8)`;
    }
    return undefined;
  }

  private isAllowed(ip: Ip): boolean {
    return this.allowed.some((cidr) => contains(cidr, ip));
  }

  /** Why the address is refused, as the rest of a sentence whose subject is the address; or undefined. */
  private refusalOf(ip: Ip): string | undefined {
    if (this.isAllowed(ip)) return undefined;
    const rules = ip.family === 4 ? ipv4Rules : ipv6Rules;
    const hit = rules.find((r) => contains(r.cidr, ip));
    if (hit?.embedsIPv4At !== undefined) {
      const shift = BigInt(128 - 32 - hit.embedsIPv4At);
      const v4: Ip = { family: 4, value: (ip.value >> shift) & 0xffffffffn };
      const inner = this.refusalOf(v4);
      return inner === undefined
        ? undefined
        : `is ${hit.name} (${hit.cidr.text}) for ${formatIPv4(v4.value)}, which ${inner}`;
    }
    if (hit) return `is in ${hit.cidr.text} (${hit.name})`;
    if (ip.family === 6 && !contains(globalUnicast, ip))
      return `is outside ${globalUnicast.text} (not global unicast)`;
    return undefined;
  }
}
