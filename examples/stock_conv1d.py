from fastconv.models import Sequential
from fastconv.layers import Conv1D, MaxPooling1D, Dense, Flatten, Dropout
import numpy as np
#生成示例数据
def create_data(nb_samples, nb_steps):
    x_train = np.random.randn(nb_samples, nb_steps, 1)
    y_train = np.zeros((nb_samples, 1))
    for i in range(nb_samples):
        if x_train[i, 1:, 0].mean() > x_train[i, :-1, 0].mean():
            y_train[i, 0] = 1.
        else:
            y_train[i, 0] = 0.
    return x_train, y_train
#设置模型参数
nb_samples = 1000
nb_steps = 50
kernel_size = 5
filters = 16
pool_size = 4
#生成数据
x_train, y_train = create_data(nb_samples, nb_steps)
#构建模型
model = Sequential()
model.add(Conv1D(filters=filters, kernel_size=kernel_size, activation='relu', input_shape=(nb_steps, 1)))
model.add(MaxPooling1D(pool_size))
model.add(Flatten())
model.add(Dense(1, activation='sigmoid'))
#编译模型
model.compile(loss='binary_crossentropy', optimizer='adam', metrics=['acc'])
#训练模型
model.fit(x_train, y_train, epochs=10, batch_size=32, verbose=2)
