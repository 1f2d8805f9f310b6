package storage

// SetMaxComponents lowers the compose limit of gs:// appends for a test and
// returns a function that restores it.
func SetMaxComponents(n int64) (restore func()) {
	old := maxComponents
	maxComponents = n
	return func() { maxComponents = old }
}
