import * as tf from '@tensorflow/tfjs';
const m = tf.serialization.SerializationMap.getMap().classNameMap;
console.log(Object.keys(m).length, Object.keys(m).filter(k => /Conv|Dense|Model|Sequential|Input|ReLU/.test(k)).join(' '));
