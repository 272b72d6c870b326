import type Database from 'better-sqlite3';
import { notFound } from '../errors.js';
import type { Note, Project } from '../types.js';
import { newId } from '../ids.js';
import * as check from '../validate.js';
import type { Clock } from './clock.js';

interface NoteRow {
  id: number;
  experiment_id: string;
  author: string;
  body: string;
  created_at: number;
}

const toNote = (r: NoteRow): Note => ({
  id: r.id,
  experimentId: r.experiment_id,
  author: r.author,
  body: r.body,
  createdAt: r.created_at,
});

export class NotesRepo {
  private readonly s;

  constructor(
    private readonly db: Database.Database,
    private readonly clock: Clock,
  ) {
    this.s = {
      exists: db.prepare(`SELECT 1 FROM experiments WHERE id = ?`).pluck(),
      insert: db.prepare(
        `INSERT INTO notes (experiment_id, author, body, created_at) VALUES (?, ?, ?, ?) RETURNING *`,
      ),
      list: db.prepare(`SELECT * FROM notes WHERE experiment_id = ? ORDER BY created_at, id`),
      delete: db.prepare(`DELETE FROM notes WHERE id = ?`),
    };
  }

  add(experimentId: string, note: { author: string; body: string }): Note {
    check.experimentId(experimentId);
    const author = check.text(note.author, 'Note author', 200);
    const body = check.text(note.body, 'Note', 100_000, { multiline: true });
    return this.db.transaction(() => {
      if (this.s.exists.get(experimentId) === undefined) throw notFound('experiment', experimentId);
      return toNote(this.s.insert.get(experimentId, author, body, this.clock()) as NoteRow);
    })();
  }

  list(experimentId: string): Note[] {
    return (this.s.list.all(check.experimentId(experimentId)) as NoteRow[]).map(toNote);
  }

  /** True if a note was deleted. */
  delete(noteId: number): boolean {
    return this.s.delete.run(check.int(noteId, 'note id', 1)).changes > 0;
  }
}

export class TagsRepo {
  private readonly s;

  constructor(private readonly db: Database.Database) {
    this.s = {
      exists: db.prepare(`SELECT 1 FROM experiments WHERE id = ?`).pluck(),
      add: db.prepare(`INSERT OR IGNORE INTO tags (experiment_id, tag) VALUES (?, ?)`),
      remove: db.prepare(`DELETE FROM tags WHERE experiment_id = ? AND tag = ?`),
      list: db.prepare(`SELECT tag FROM tags WHERE experiment_id = ? ORDER BY tag`).pluck(),
      all: db.prepare(`SELECT tag, count(*) AS count FROM tags GROUP BY tag ORDER BY tag`),
    };
  }

  /** Idempotent: adding a tag twice keeps one. */
  add(experimentId: string, tag: string): void {
    check.experimentId(experimentId);
    const t = check.tag(tag);
    this.db.transaction(() => {
      if (this.s.exists.get(experimentId) === undefined) throw notFound('experiment', experimentId);
      this.s.add.run(experimentId, t);
    })();
  }

  /** True if the tag was there. */
  remove(experimentId: string, tag: string): boolean {
    return this.s.remove.run(check.experimentId(experimentId), check.tag(tag)).changes > 0;
  }

  list(experimentId: string): string[] {
    return this.s.list.all(check.experimentId(experimentId)) as string[];
  }

  /** Every tag in the history with how many experiments carry it (for the filter menu). */
  all(): { tag: string; count: number }[] {
    return this.s.all.all() as { tag: string; count: number }[];
  }
}

interface ProjectRow {
  id: string;
  name: string;
  description: string;
  created_at: number;
}

const toProject = (r: ProjectRow): Project => ({
  id: r.id,
  name: r.name,
  description: r.description,
  createdAt: r.created_at,
});

export class ProjectsRepo {
  private readonly s;

  constructor(db: Database.Database, private readonly clock: Clock) {
    this.s = {
      insert: db.prepare(`INSERT INTO projects (id, name, description, created_at) VALUES (?, ?, ?, ?) RETURNING *`),
      get: db.prepare(`SELECT * FROM projects WHERE id = ?`),
      list: db.prepare(`SELECT * FROM projects ORDER BY name COLLATE NOCASE, id`),
    };
  }

  create(p: { name: string; description?: string }): Project {
    const now = this.clock();
    const row = this.s.insert.get(
      newId('prj', now),
      check.text(p.name, 'Project name', 200),
      check.text(p.description ?? '', 'Project description', 10_000, { min: 0, multiline: true }),
      now,
    ) as ProjectRow;
    return toProject(row);
  }

  get(id: string): Project | undefined {
    const r = this.s.get.get(check.projectId(id)) as ProjectRow | undefined;
    return r && toProject(r);
  }

  list(): Project[] {
    return (this.s.list.all() as ProjectRow[]).map(toProject);
  }
}
