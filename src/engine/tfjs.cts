// tfjs required, not imported: Node lexes every CommonJS module an ES module imports (and the modules it
// re-exports) to find its export names, which for tfjs's bundles is ~0.3 s of CPU in every process that
// loads it. `import tf from '…/engine/tfjs.cjs'` gets the same module object without that pass.
import tf = require('@tensorflow/tfjs');
export = tf;
