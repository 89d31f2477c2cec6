"""Recurrent layers: SimpleRNN, LSTM, GRU, their cells, Bidirectional and TimeDistributed."""
