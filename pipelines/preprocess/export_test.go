package preprocess

// For the external test package (quick_test.go), which builds configs
// through jobs/stages.
var (
	RunT      = run
	ReadSplit = readSplit
)
