// Package ring builds the table a cluster routes by: a consistent-hash ring
// (github.com/buraksezer/consistent over xxhash) flattened into one owner
// per partition. A key's partition is xxhash64(key) mod the table's length,
// so a lookup is a hash and an index: no lock, no allocation, and the table
// is an immutable slice that any number of goroutines read at once.
//
// package cluster keeps one table per routing snapshot; package bench builds
// tables to measure balance and movement (docs/benchmarks.md).
package ring
