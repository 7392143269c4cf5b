from fastconv.models import Sequential
from fastconv.layers import Embedding, Conv1D, MaxPooling1D, GlobalMaxPooling1D, Dense
# Data loading, fit and evaluate are not in the original listing; added so the program runs.
from fastconv.datasets import imdb
from fastconv.utils import pad_sequences
max_features = 20000 #最多使用的单词数
max_len = 100 #每条评论的最大长度
(x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=max_features)
x_train = pad_sequences(x_train, maxlen=max_len)
x_test = pad_sequences(x_test, maxlen=max_len)
model = Sequential()
model.add(Embedding(max_features, 128, input_length=max_len))
model.add(Conv1D(32, 7, activation='relu'))
model.add(MaxPooling1D(5))
model.add(Conv1D(32, 7, activation='relu'))
model.add(GlobalMaxPooling1D())
model.add(Dense(1, activation='sigmoid'))
model.compile(optimizer='rmsprop',
              loss='binary_crossentropy',
              metrics=['acc'])
model.fit(x_train, y_train, epochs=2, batch_size=32)
loss, acc = model.evaluate(x_test, y_test)
print(f"Test accuracy: {acc:.4f}")
