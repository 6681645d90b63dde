// The tabs of one origin working as one: a Web Lock so that a single tab refreshes at a time,
// and a BroadcastChannel that hands the result (or a sign-out) to the others. Where the browser
// lacks them (Web Locks need a secure context) this tab simply works alone.

/**
 * Joins the tabs under `name`.
 * @param {string} name the lock and channel name
 * @param {(message: any) => void} heard called with each message another tab posts
 */
export function tabs(name, heard) {
  const Channel = globalThis.BroadcastChannel;
  const locks = globalThis.navigator?.locks;
  // Two channel objects: this tab posts on `ears` (never delivered to itself) and heard on it;
  // `mouth` posts the barrier that `ears` must hear, after anything other tabs posted earlier.
  const ears = Channel && new Channel(name);
  const mouth = Channel && new Channel(name);
  const waiting = new Map();
  if (ears) {
    ears.onmessage = ({ data }) => {
      if (data?.t !== 'sync') return heard(data);
      waiting.get(data.id)?.();
      waiting.delete(data.id);
    };
  }
  return {
    /** Tells the other tabs. */
    post: (message) => ears?.postMessage(message),
    /** Runs `job` while no other tab runs one under the same name. */
    lock: (job) => (locks ? locks.request(name, job) : job()),
    /**
     * Resolves once every message posted by other tabs before now has been heard: a tab that
     * just took the lock from one that refreshed sees that token before deciding to refresh.
     */
    sync: () =>
      new Promise((done) => {
        if (!ears) return done();
        const id = Math.random();
        waiting.set(id, done);
        mouth.postMessage({ t: 'sync', id });
      }),
    /** Leaves: nothing is heard or posted any more. */
    close() {
      ears?.close();
      mouth?.close();
    },
  };
}
