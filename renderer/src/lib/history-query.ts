// History filters → listExperiments params (pure, tested).
import type { ExperimentKind, ExperimentSort, ExperimentStatus, ListExperimentsParams } from '../../../app/contract/api.js';

export type SortKey = 'createdAt' | 'name' | 'status' | 'kind' | 'finishedAt' | 'accuracy';

export interface HistoryFilters {
  search: string;
  kind: ExperimentKind | '';
  status: ExperimentStatus | '';
  tag: string;
  pinnedOnly: boolean;
  sort: SortKey;
  order: 'asc' | 'desc';
}

export const DEFAULT_FILTERS: HistoryFilters = { search: '', kind: '', status: '', tag: '', pinnedOnly: false, sort: 'createdAt', order: 'desc' };

export function toParams(f: HistoryFilters): ListExperimentsParams {
  const p: ListExperimentsParams = { order: f.order };
  const sort: ExperimentSort = f.sort === 'accuracy' ? { metric: 'testAccuracy' } : f.sort;
  p.sort = sort;
  if (f.search.trim()) p.search = f.search.trim().slice(0, 200);
  if (f.kind) p.kinds = [f.kind];
  if (f.status) p.statuses = [f.status];
  if (f.tag) p.tags = [f.tag];
  if (f.pinnedOnly) p.pinned = true;
  return p;
}

/** Clicking a column header: same column flips the order, another column starts at its natural order. */
export function toggleSort(f: HistoryFilters, key: SortKey): HistoryFilters {
  if (f.sort === key) return { ...f, order: f.order === 'asc' ? 'desc' : 'asc' };
  return { ...f, sort: key, order: key === 'name' || key === 'kind' || key === 'status' ? 'asc' : 'desc' };
}

export function isFiltered(f: HistoryFilters): boolean {
  return !!(f.search.trim() || f.kind || f.status || f.tag || f.pinnedOnly);
}
