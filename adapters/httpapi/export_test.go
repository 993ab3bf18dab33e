package httpapi

// TakeAllLargeWriteTurns takes every turn of large config writes, as
// writes being served would, and returns their release.
func TakeAllLargeWriteTurns(s *Server) (release func()) {
	n := cap(s.largeWrites)
	for range n {
		s.largeWrites <- struct{}{}
	}
	return func() {
		for range n {
			<-s.largeWrites
		}
	}
}
