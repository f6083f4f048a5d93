/**
 * Just enough of a Berkeley DB 1.85 hash-file reader to pull the items out of
 * a small key3.db (NSS lib/softoken/legacydb), for testing the
 * legacy 3DES PBE against bytes real NSS wrote. Only items stored inline on
 * bucket pages are read; that covers a DB with a handful of entries.
 */
const BDB_HASH_MAGIC = 0x00061561;
const HEADER_BSIZE_OFFSET = 12;

/** key (latin1) → data of every inline item. */
export function readBdbHashItems(file: Uint8Array): Map<string, Uint8Array> {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  if (view.getUint32(0, false) !== BDB_HASH_MAGIC) throw new Error("not a Berkeley DB hash file");
  const pageSize = view.getUint32(HEADER_BSIZE_OFFSET, false);
  const items = new Map<string, Uint8Array>();
  for (let start = pageSize; start + pageSize <= file.length; start += pageSize) {
    const page = file.subarray(start, start + pageSize);
    const pv = new DataView(page.buffer, page.byteOffset, page.byteLength);
    // Bucket page: u16 entry count, then that many u16 offsets (little-endian on
    // the x86 machine that wrote it), as (key, data) pairs growing down from the end.
    const count = pv.getUint16(0, true);
    if (count === 0 || count % 2 !== 0 || 2 + 2 * count > pageSize) continue;
    const offsets = Array.from({ length: count }, (_, i) => pv.getUint16(2 + 2 * i, true));
    if (!offsets.every((o, i) => o <= pageSize && (i === 0 || o < offsets[i - 1]))) continue;
    let end = pageSize;
    for (let i = 0; i < count; i += 2) {
      const key = page.subarray(offsets[i], end);
      const data = page.subarray(offsets[i + 1], offsets[i]);
      end = offsets[i + 1];
      items.set(Buffer.from(key).toString("latin1"), data);
    }
  }
  return items;
}
