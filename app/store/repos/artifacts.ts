import type Database from 'better-sqlite3';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StoreError, invalid, notFound, writeFailure } from '../errors.js';
import type { ArtifactInfo, AttachedArtifact } from '../types.js';
import * as check from '../validate.js';
import type { Clock } from './clock.js';

export const DEFAULT_MEDIA_TYPE = 'application/octet-stream';

interface Row {
  sha256: string;
  size_bytes: number;
  media_type: string;
  created_at: number;
}

const toInfo = (r: Row): ArtifactInfo => ({
  sha256: r.sha256,
  sizeBytes: r.size_bytes,
  mediaType: r.media_type,
  createdAt: r.created_at,
});

async function fsyncFile(path: string): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Content-addressed files next to the database: `<dir>/ab/cdef…` for sha256 `abcdef…`.
 * A file is written to `<dir>/.tmp/`, fsynced, then renamed into place, so a reader never sees
 * a partial artifact; the same content stored twice is one file.
 */
export class ArtifactsRepo {
  private readonly s;

  constructor(
    private readonly db: Database.Database,
    private readonly clock: Clock,
    private readonly dir: string | null,
  ) {
    this.s = {
      insert: db.prepare(
        `INSERT INTO artifacts (sha256, size_bytes, media_type, created_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (sha256) DO NOTHING`,
      ),
      get: db.prepare(`SELECT * FROM artifacts WHERE sha256 = ?`),
      expExists: db.prepare(`SELECT 1 FROM experiments WHERE id = ?`).pluck(),
      attach: db.prepare(
        `INSERT INTO experiment_artifacts (experiment_id, role, sha256, created_at) VALUES (?, ?, ?, ?)
         ON CONFLICT DO NOTHING`,
      ),
      detach: db.prepare(`DELETE FROM experiment_artifacts WHERE experiment_id = ? AND role = ?`),
      list: db.prepare(
        `SELECT a.*, ea.role FROM experiment_artifacts ea JOIN artifacts a ON a.sha256 = ea.sha256
         WHERE ea.experiment_id = ? ORDER BY ea.role, ea.created_at`,
      ),
    };
  }

  /** The artifacts folder; throws for an in-memory history opened without one. */
  root(): string {
    if (this.dir === null) {
      throw new StoreError('NO_ARTIFACTS_DIR', 'This history has no artifacts folder (in-memory database opened without artifactsDir).');
    }
    return this.dir;
  }

  /** Where the file for this hash lives (whether or not it exists yet). */
  path(sha256: string): string {
    const sha = check.sha256(sha256);
    return join(this.root(), sha.slice(0, 2), sha.slice(2));
  }

  /** A fresh temp path on the same file system as the artifacts (so rename is atomic). */
  async tempPath(): Promise<string> {
    const tmpDir = join(this.root(), '.tmp');
    await mkdir(tmpDir, { recursive: true });
    return join(tmpDir, `${process.pid}-${randomBytes(8).toString('hex')}.part`);
  }

  /**
   * Stores a file (by path) or bytes and returns its sha256. Deduplicated by content.
   * The media type of the first put of some content wins.
   */
  async put(source: string | Uint8Array, mediaType: string = DEFAULT_MEDIA_TYPE): Promise<string> {
    check.mediaType(mediaType);
    try {
      return await this.putChecked(source, mediaType);
    } catch (err) {
      throw writeFailure(`Cannot store the artifact${typeof source === 'string' ? ` ${source}` : ''} in ${this.root()}`, err);
    }
  }

  private async putChecked(source: string | Uint8Array, mediaType: string): Promise<string> {
    let sha: string;
    let size: number;
    if (typeof source === 'string') {
      const tmp = await this.tempPath();
      try {
        ({ sha, size } = await this.copyHashing(source, tmp));
        await this.adopt(tmp, sha, size);
      } finally {
        await rm(tmp, { force: true });
      }
    } else if (source instanceof Uint8Array) {
      sha = createHash('sha256').update(source).digest('hex');
      size = source.byteLength;
      if (!(await this.fileOk(sha, size))) {
        const tmp = await this.tempPath();
        try {
          await writeFile(tmp, source, { flag: 'wx' });
          await this.adopt(tmp, sha, size);
        } finally {
          await rm(tmp, { force: true });
        }
      }
    } else {
      throw invalid('An artifact must be a file path or bytes.');
    }
    this.register(sha, size, mediaType, this.clock());
    return sha;
  }

  private async copyHashing(from: string, to: string): Promise<{ sha: string; size: number }> {
    const hash = createHash('sha256');
    let size = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    });
    try {
      await pipeline(createReadStream(from), tap, createWriteStream(to, { flags: 'wx' }));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'EISDIR') {
        throw invalid(`Cannot store artifact: ${(err as Error).message}`);
      }
      throw err;
    }
    return { sha: hash.digest('hex'), size };
  }

  private async fileOk(sha: string, size: number): Promise<boolean> {
    try {
      const st = await stat(this.path(sha));
      return st.isFile() && st.size === size;
    } catch {
      return false;
    }
  }

  /**
   * Moves a temp file whose content is known to hash to `sha` into place. Returns true if it
   * created the artifact file, false if an intact copy was already there (the temp is left
   * for the caller to delete). Only ever writes to path(sha): a validated hex name.
   */
  async adopt(tmp: string, sha: string, size: number): Promise<boolean> {
    if (await this.fileOk(sha, size)) return false;
    const final = this.path(sha);
    await fsyncFile(tmp);
    await mkdir(dirname(final), { recursive: true });
    await rename(tmp, final);
    return true;
  }

  /** Records the row for a file already in place. */
  register(sha256: string, sizeBytes: number, mediaType: string, createdAt: number): void {
    this.s.insert.run(check.sha256(sha256), sizeBytes, check.mediaType(mediaType), createdAt);
  }

  get(sha256: string): ArtifactInfo | undefined {
    const r = this.s.get.get(check.sha256(sha256)) as Row | undefined;
    return r && toInfo(r);
  }

  /** Links a stored artifact to an experiment under a role ('student.onnx', 'report.md', ...). */
  attach(experimentId: string, sha256: string, role: string): void {
    check.experimentId(experimentId);
    check.sha256(sha256);
    check.role(role);
    this.db.transaction(() => {
      if (this.s.expExists.get(experimentId) === undefined) throw notFound('experiment', experimentId);
      if (this.s.get.get(sha256) === undefined) throw notFound('artifact', sha256);
      this.s.attach.run(experimentId, role, sha256, this.clock());
    })();
  }

  /** Removes the links of a role (the file stays; other experiments may share it). */
  detach(experimentId: string, role: string): number {
    return this.s.detach.run(check.experimentId(experimentId), check.role(role)).changes;
  }

  listForExperiment(experimentId: string): AttachedArtifact[] {
    return (this.s.list.all(check.experimentId(experimentId)) as (Row & { role: string })[]).map((r) => ({
      ...toInfo(r),
      role: r.role,
    }));
  }
}
