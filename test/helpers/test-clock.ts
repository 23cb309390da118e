/** A clock a test moves by hand. One per test environment; never global. */
export class TestClock {
  constructor(public current: number = Date.parse('2026-01-05T10:00:00.000Z')) {}

  readonly now = (): number => this.current;

  advance(ms: number): void {
    this.current += ms;
  }
}
