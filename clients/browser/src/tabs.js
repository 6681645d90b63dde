// The tabs of one origin working as one: a Web Lock so that a single tab refreshes at a time,
// and a BroadcastChannel that hands the result (or a sign-out) to the others. Where the browser
// lacks them (Web Locks need a secure context) this tab simply works alone.
//
// The channel does not order one tab's messages against another's, nor against the lock: a tab
// can be given the lock before it hears the token that the tab before it posted. So a tab that
// mints a token also holds a "mark", a shared lock named after the token's expiry (no secret),
// from before it lets the lock go until it mints again or leaves. Whoever holds the lock reads
// the newest mark, and when it has not heard that token yet it waits for it: by asking, since
// the tab may be newer than the token, until the tab that marked it answers or leaves.

/**
 * Joins the tabs under `name`.
 * @param {string} name the lock and channel name
 * @param {(message: any) => void} heard called with each message another tab posts
 */
export function tabs(name, heard) {
  const Channel = globalThis.BroadcastChannel;
  const locks = globalThis.navigator?.locks;
  const ears = Channel && new Channel(name);
  // Marks need both: without a channel no tab hears a token, without locks none waits.
  const both = ears && locks;
  const marks = `${name} #`;
  let unmark;
  if (ears) ears.onmessage = ({ data }) => heard(data);
  return {
    /** Tells the other tabs. */
    post: (message) => ears?.postMessage(message),
    /** Runs `job` while no other tab runs one under the same name. */
    lock: (job) => (locks ? locks.request(name, job) : job()),
    /** Marks `n` (0: nothing) as the newest this tab minted; resolves once the mark is held. */
    mark: (n) =>
      new Promise((held) => {
        unmark?.();
        unmark = null;
        if (!both || !n) return held();
        locks.request(marks + n, { mode: 'shared' }, () => new Promise((r) => {
          unmark = r;
          held();
        }));
      }),
    /** The newest mark of a live tab, 0 if none (call while holding the lock). */
    newest: async () =>
      Math.max(0, ...(both ? (await locks.query()).held : []).map((l) => (l.name.startsWith(marks) ? +l.name.slice(marks.length) : 0))),
    /** Resolves when no tab holds mark `n` any more. */
    gone: (n) => locks.request(marks + n, () => {}),
    /** Leaves: nothing is heard or posted any more. */
    close() {
      unmark?.();
      ears?.close();
    },
  };
}
