// Rows that are listed oldest first and ended once, never deleted: an admin token is revoked, a
// webhook disabled. The record stays (audit entries refer to it); ending it again keeps the first time.
import type { Selectable } from 'kysely';
import { cursorKey, pageLimit, toPage, type Page, type PageRequest } from '../paging.ts';
import type { StoreDatabase } from '../schema.ts';
import { isId, notFound, type StoreContext } from '../values.ts';

/** Each such table and the column that records when its row ended. */
interface EndedColumn {
  admin_tokens: 'revoked_at';
  webhooks: 'disabled_at';
}
type EndedOnceTable = keyof EndedColumn;
const END_COLUMN: EndedColumn = { admin_tokens: 'revoked_at', webhooks: 'disabled_at' };

export async function listOldestFirst<T extends EndedOnceTable, R>(
  ctx: StoreContext,
  table: T,
  request: PageRequest,
  map: (row: Selectable<StoreDatabase[T]>) => R,
): Promise<Page<R>> {
  const limit = pageLimit(request);
  const after = cursorKey(table, ['number', 'string'] as const, request);
  const from: EndedOnceTable = table; // queries over the union of the tables: columns common to them
  let q = ctx.db.selectFrom(from).selectAll();
  if (after) q = q.where((eb) => eb(eb.refTuple('created_at', 'id'), '>', eb.tuple(after[0], after[1])));
  const rows = await q
    .orderBy('created_at')
    .orderBy('id')
    .limit(limit + 1)
    .execute();
  // The query ran on `table`: its rows are that table's.
  return toPage(
    table,
    rows,
    limit,
    (r) => map(r as Selectable<StoreDatabase[T]>),
    (r) => [r.created_at, r.id],
  );
}

/** Ends a row now unless it already ended; returns it. ERR_STORE_NOT_FOUND naming `what` when there is none. */
export async function endOnce<T extends EndedOnceTable, R>(
  ctx: StoreContext,
  table: T,
  id: string,
  what: string,
  map: (row: Selectable<StoreDatabase[T]>) => R,
): Promise<R> {
  if (!isId(id)) throw notFound(what, id);
  const column = END_COLUMN[table];
  const from: EndedOnceTable = table;
  await ctx.db
    .updateTable(from)
    .set({ [column]: ctx.now() })
    .where('id', '=', id)
    .where(column, 'is', null)
    .execute();
  const row = await ctx.db.selectFrom(from).selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound(what, id);
  return map(row as Selectable<StoreDatabase[T]>);
}
