package sqlite

// SetFoldEvery makes j fold the change log once it holds n rows, so that
// tests can fold often.
func SetFoldEvery(j *Journal, n int64) { j.foldEvery = n }
