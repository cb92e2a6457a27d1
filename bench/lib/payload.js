/** A ~300-byte JSON object; `bench` lets the clients recognise it without looking further. */
export function payload(bench, seq) {
  return { bench, seq, sent_at: Date.now(), title: 'benchmark payload', body: 'x'.repeat(220) };
}
