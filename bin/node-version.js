// Which Node.js the proxy needs, checked before anything that needs it is loaded. Plain JavaScript that
// runs on any Node, so an old one gets one readable line instead of a stack trace from a dependency.

/** The oldest Node.js the proxy's dependencies accept (undici 8: 22.19). The project installs Node 24. */
export const NEEDED = [22, 19];

/** One line naming the needed and the found version and how to run the project's own, or null when fine. */
export function nodeVersionProblem(found) {
  const [major, minor] = found.split('.').map(Number);
  if (major > NEEDED[0] || (major === NEEDED[0] && minor >= NEEDED[1])) return null;
  return `gatehouse: needs Node.js ${NEEDED.join('.')} or newer, found ${found}; ` +
    'run it with the project\'s own Node: `npx gatehouse …` or `npm start`';
}
