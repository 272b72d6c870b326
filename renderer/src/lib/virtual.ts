// Paging for virtualised lists: which rows to render is @tanstack/svelte-virtual's job; this is
// the page cache that fetches only the pages the viewport needs (10,000+ experiments stay smooth).

/** Page indexes that cover [start, end). */
export function pagesFor(start: number, end: number, pageSize: number): number[] {
  if (end <= start) return [];
  const out: number[] = [];
  for (let p = Math.floor(start / pageSize); p <= Math.floor((end - 1) / pageSize); p++) out.push(p);
  return out;
}

/**
 * Sparse cache of rows by index, filled page by page. `fetchPage(offset, limit)` returns rows
 * and the current total. A new query (generation) drops everything.
 */
export class PageCache<T> {
  private readonly rows = new Map<number, T>();
  private readonly loading = new Map<number, Promise<void>>();
  private generation = 0;
  total = 0;

  constructor(
    private fetchPage: (offset: number, limit: number) => Promise<{ rows: T[]; total: number }>,
    readonly pageSize = 200,
    private readonly maxPages = 50,
  ) {}

  reset(fetchPage?: (offset: number, limit: number) => Promise<{ rows: T[]; total: number }>): void {
    if (fetchPage) this.fetchPage = fetchPage;
    this.generation++;
    this.rows.clear();
    this.loading.clear();
  }

  get(index: number): T | undefined {
    return this.rows.get(index);
  }

  has(index: number): boolean {
    return this.rows.has(index);
  }

  /** Loads the pages covering [start, end); resolves true if anything new arrived. */
  async ensure(start: number, end: number): Promise<boolean> {
    const gen = this.generation;
    const wanted = pagesFor(start, Math.max(end, start + 1), this.pageSize).filter((p) => !this.rows.has(p * this.pageSize) || !this.rows.has(Math.min(this.total, (p + 1) * this.pageSize) - 1));
    if (wanted.length === 0) return false;
    await Promise.all(
      wanted.map((p) => {
        let pending = this.loading.get(p);
        if (!pending) {
          pending = this.fetchPage(p * this.pageSize, this.pageSize).then(
            ({ rows, total }) => {
              if (gen !== this.generation) return;
              this.total = total;
              rows.forEach((r, i) => this.rows.set(p * this.pageSize + i, r));
              this.loading.delete(p);
              this.evict(p);
            },
            (err) => {
              this.loading.delete(p);
              throw err;
            },
          );
          this.loading.set(p, pending);
        }
        return pending;
      }),
    );
    return gen === this.generation;
  }

  /** Keeps memory bounded: drops pages far from the one just loaded. */
  private evict(near: number): void {
    const pages = new Set<number>();
    for (const i of this.rows.keys()) pages.add(Math.floor(i / this.pageSize));
    if (pages.size <= this.maxPages) return;
    const far = [...pages].sort((a, b) => Math.abs(b - near) - Math.abs(a - near)).slice(0, pages.size - this.maxPages);
    for (const p of far) for (let i = p * this.pageSize; i < (p + 1) * this.pageSize; i++) this.rows.delete(i);
  }
}
