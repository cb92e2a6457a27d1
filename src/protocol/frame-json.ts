/**
 * A frame serialized once and kept with its JSON: a hidden (non-enumerable, so neither
 * JSON.stringify nor a spread copy sees it) property of the frame object. Delivery writes
 * that JSON instead of serializing the frame again. Not a WeakMap: its entries cost every GC.
 */
const FRAME_JSON = Symbol('frameJson');

type Holder = { [FRAME_JSON]?: string };

/** The JSON kept on the frame, if any. */
export function keptJsonOf(holder: object): string | undefined {
  return (holder as Holder)[FRAME_JSON];
}

/** Keeps `json` (the frame's JSON, made now if not given) on the frame and answers it. */
export function keepJson(frame: object, json = JSON.stringify(frame)): string {
  Object.defineProperty(frame, FRAME_JSON, { value: json, configurable: true });
  return json;
}

/** Forgets the JSON kept on an object (its frame was replaced). */
export function forgetJson(holder: object): void {
  delete (holder as Holder)[FRAME_JSON];
}

/** The frame's JSON: the one kept on it, else made now. */
export function jsonOf(frame: object): string {
  return keptJsonOf(frame) ?? JSON.stringify(frame);
}
