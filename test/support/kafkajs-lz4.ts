import kafkajs from 'kafkajs';
import { lz4Codec } from '../../src/cdc/kafka/compression.js';

// The change topics are LZ4-compressed (cdc.compression's default) and kafkajs ships no LZ4
// codec: a kafkajs application reading them registers one, as the README shows — so do the
// tests that read the topics with the public kafkajs package.
const codec = lz4Codec();
(kafkajs.CompressionCodecs as Record<number, () => unknown>)[kafkajs.CompressionTypes.LZ4] = () => codec;

export default kafkajs;
