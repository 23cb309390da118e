/**
 * The writer of the SIGKILL test: saves and removes items of one collection through HTTP in a loop while
 * the server is killed and restarted under it, and remembers what each acknowledged write left. A write
 * that failed (the process died) leaves its item unknown until the next acknowledged write to it.
 */
import { seededRandom } from '../helpers/seeded-random.js';

const P = '/wix-data/v2';

type Known = { present: true; n: number } | { present: false };

export class SigkillWriter {
  private readonly state = new Map<string, Known | undefined>();
  private stopped = false;
  private running: Promise<void> | undefined;
  private counter = 0;
  acknowledged = 0;
  failed = 0;
  /** Answers other than success or a clean refusal (a 5xx, or an unexpected 4xx). */
  readonly unexpected: string[] = [];

  constructor(
    private readonly base: string,
    private readonly auth: { apiKey: string; siteId: string },
    private readonly collection: string,
    seed: number,
    private readonly ids = 60,
  ) {
    this.random = seededRandom(seed);
  }

  private readonly random: () => number;

  start(): void {
    this.running = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  private async post(path: string, body: unknown): Promise<{ status: number; body: any }> {
    const res = await fetch(`${this.base}${P}${path}`, {
      method: 'POST',
      headers: {
        authorization: this.auth.apiKey,
        'wix-site-id': this.auth.siteId,
        'content-type': 'application/json',
      },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: await res.json().catch(() => undefined) };
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const id = `w-${Math.floor(this.random() * this.ids)}`;
      const save = this.random() < 0.7;
      const n = ++this.counter;
      this.state.set(id, undefined);
      try {
        const res = save
          ? await this.post('/items/save', {
              dataCollectionId: this.collection,
              dataItem: { id, data: { n } },
            })
          : await this.post('/items/remove', { dataCollectionId: this.collection, dataItemId: id });
        // A steady writer, not a flood: the server's jobs must still get the CPU.
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (res.status === 200) {
          this.acknowledged += 1;
          this.state.set(id, save ? { present: true, n } : { present: false });
        } else if (!save && res.status === 404) {
          this.acknowledged += 1;
          this.state.set(id, { present: false });
        } else {
          this.unexpected.push(
            `${save ? 'save' : 'remove'} ${id}: ${res.status} ${JSON.stringify(res.body)}`,
          );
        }
      } catch {
        // The server died under the request: its outcome is unknown.
        this.failed += 1;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  }

  /** Acknowledged writes whose effect is not what the server now holds. */
  async lost(): Promise<string[]> {
    const lost: string[] = [];
    for (const [id, known] of this.state) {
      if (!known) continue;
      const res = await fetch(`${this.base}${P}/items/${id}?dataCollectionId=${this.collection}`, {
        headers: { authorization: this.auth.apiKey, 'wix-site-id': this.auth.siteId },
      });
      const body = (await res.json().catch(() => undefined)) as { dataItem?: { data?: { n?: number } } };
      const found = res.status === 200 ? body.dataItem?.data?.n : undefined;
      if (known.present ? found !== known.n : res.status !== 404)
        lost.push(
          `${id}: expected ${known.present ? `n=${known.n}` : 'absent'}, found ${res.status} n=${found}`,
        );
    }
    return lost;
  }
}
