#!/usr/bin/env node
// Test-only: decodes a surge interval log with an independent HdrHistogram
// implementation (the hdr-histogram-js package from npm) and prints, as JSON,
// per tag: the total count, min, max and the fixed percentiles surge reports,
// plus every interval's count. The e2e tests compare this with surge's own
// numbers, which must agree exactly.
//
// usage: node hdr_decode.js LOG.hlog [more.hlog ...]   (several: added)
// The package is looked up in $HDR_JS_MODULES, then build/node/node_modules.
"use strict";
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..", "..", "..");
const modules = process.env.HDR_JS_MODULES || path.join(root, "build", "node", "node_modules");
const hdr = require(path.join(modules, "hdr-histogram-js"));

const PERCENTILES = [50, 75, 90, 95, 99, 99.9, 99.99, 99.999, 100];

const totals = new Map(); // tag -> histogram
const intervals = new Map(); // tag -> [{start, count}]
for (const file of process.argv.slice(2)) {
  const reader = new hdr.HistogramLogReader(fs.readFileSync(file, "utf8"), 64);
  let h;
  while ((h = reader.nextIntervalHistogram()) !== null) {
    const tag = h.tag;
    if (!totals.has(tag)) {
      // 64-bit counts, the layout the log's histogram declares
      totals.set(tag, hdr.build({
        bitBucketSize: 64,
        lowestDiscernibleValue: h.lowestDiscernibleValue,
        highestTrackableValue: h.highestTrackableValue,
        numberOfSignificantValueDigits: h.numberOfSignificantValueDigits,
      }));
      intervals.set(tag, []);
    }
    totals.get(tag).add(h);
    intervals.get(tag).push({ start_ms: h.startTimeStampMsec, count: h.totalCount });
  }
}

const out = {};
for (const [tag, h] of totals) {
  const pct = {};
  for (const p of PERCENTILES) pct[String(p)] = h.getValueAtPercentile(p);
  out[tag] = {
    count: h.totalCount,
    min: h.minNonZeroValue,
    max: h.maxValue,
    percentiles: pct,
    intervals: intervals.get(tag),
  };
}
process.stdout.write(JSON.stringify(out) + "\n");
