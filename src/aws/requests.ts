// Shapes of SageMaker requests and responses the activities share.

/** The `Tags` field of a create request: left out when there are none. */
export function tagsField(tags: Record<string, string>): { Tags?: Array<{ Key: string; Value: string }> } {
  const entries = Object.entries(tags);
  return entries.length ? { Tags: entries.map(([Key, Value]) => ({ Key, Value })) } : {};
}

/** The page size the activities ask of a List* call: SageMaker's maximum. */
export const PAGE_SIZE = 100;

/**
 * Every item of every page an SDK paginator (paginateListEndpoints, ...)
 * yields, in order. A paginator writes its token into the input it is
 * given, so give each call a fresh input object.
 */
export async function collectPages<P, T>(pages: AsyncIterable<P>, items: (page: P) => readonly T[] | undefined): Promise<T[]> {
  const out: T[] = [];
  // A page may be missing where a client is stubbed; it holds no items.
  for await (const page of pages) if (page) out.push(...(items(page) ?? []));
  return out;
}
