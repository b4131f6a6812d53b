// Package docstest holds the test that keeps the documentation honest: every
// ```go block of README.md and docs/*.md is compiled (go vet) against this
// module, every relative link points at a file that exists, and the README's
// quick start keeps exactly its two set-up commands.
//
// A block that starts with "package" is compiled as it is. Any other block is
// a fragment: one with top-level declarations (func, type, var, const at the
// start of a line) becomes a file of its own package; otherwise it becomes the
// body of a function. Imports are added for the package names the fragment
// uses (see imports in docs_test.go), so a fragment reads like the code a
// user writes, without boilerplate.
package docstest
