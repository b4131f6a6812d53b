package bench

// InfoNumbers is infoNumbers, for the tests of package bench_test.
var InfoNumbers = infoNumbers
