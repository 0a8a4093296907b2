/** Benchmark harnesses; run through scripts/bench, figures in docs/PERFORMANCE.md. */
package org.thinsr.bench;
