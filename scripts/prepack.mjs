// `npm pack` runs this before compiling (package.json "prepack"): the tarball's dist/src must
// hold exactly the current sources, with no compiled leftovers of deleted files. The
// incremental build info goes too, or tsc would believe the removed outputs are up to date.
import { rmSync } from 'node:fs';

rmSync('dist', { recursive: true, force: true });
